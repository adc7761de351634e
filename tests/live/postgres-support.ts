// What the PostgreSQL live tests share: Debian's server binaries, the postgres system user, and
// directories and files owned by it (PostgreSQL refuses a data directory others can read).
import { execFileSync } from "child_process";
import * as fs from "fs";

/** Debian's PostgreSQL 15 server and client binaries. */
export const BIN_DIR = "/usr/lib/postgresql/15/bin";
/** The postgres system user the servers run as. */
export const POSTGRES_UID = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
export const POSTGRES_GID = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());

/** mkdir owned by postgres, mode 0700 (PostgreSQL refuses a group- or world-readable PGDATA). */
export function postgresDir(dir: string): string {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chownSync(dir, POSTGRES_UID, POSTGRES_GID);
    fs.chmodSync(dir, 0o700);
    return dir;
}

/** A file owned by postgres with `mode` (0600 by default: it may hold a password). */
export function postgresFile(file: string, text: string, mode = 0o600): string {
    fs.writeFileSync(file, text, { mode });
    fs.chownSync(file, POSTGRES_UID, POSTGRES_GID);
    fs.chmodSync(file, mode);
    return file;
}
