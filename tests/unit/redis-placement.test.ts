// The replica placement program (REPLICA_PLACEMENT_AWK) is pure text in, text out; it runs in the
// bootstrap Job's redis image with its awk (mawk, as on Debian), so it is tested here with awk.
import { execFileSync } from "child_process";
import { REPLICA_PLACEMENT_AWK } from "../../components/redis/render";

interface Node {
    id: string;
    master?: string;
    slots?: boolean;
    zone?: string;
    host: string;
}

function place(nodes: Node[], replicasPerMaster = 1): string[] {
    const input = nodes.map((n) => `${n.id} ${n.slots ? "master" : "replica"} ${n.master ?? "-"} ${n.zone ?? "-"} ${n.host}`).join("\n") + "\n";
    return execFileSync("awk", ["-v", `R=${replicasPerMaster}`, REPLICA_PLACEMENT_AWK], { input }).toString().trim().split("\n").filter(Boolean).sort();
}

/** Applies the `replicate` lines and returns replica -> master. */
function after(nodes: Node[], output: string[]): Record<string, string> {
    const result: Record<string, string> = Object.fromEntries(nodes.filter((n) => !n.slots).map((n) => [n.id, n.master ?? "-"]));
    for (const line of output) {
        const [action, replica, master] = line.split(" ");
        if (action === "replicate") result[replica] = master;
    }
    return result;
}

/** Three masters, one on each of hosts a, b and c. */
const MASTERS_ON_A_B_C: Node[] = [
    { id: "m0", slots: true, host: "a" },
    { id: "m1", slots: true, host: "b" },
    { id: "m2", slots: true, host: "c" },
];

/** Every replica of the placement sits on another host than its master. */
function expectReplicasApart(nodes: Node[], placed: Record<string, string>): void {
    const hostOf = Object.fromEntries(nodes.map((n) => [n.id, n.host]));
    for (const [replica, master] of Object.entries(placed)) expect(hostOf[replica]).not.toBe(hostOf[master]);
}

describe("replica placement", () => {
    test("redis-cli's pairs on the same host are swapped so each replica sits on another host", () => {
        const nodes: Node[] = [
            ...MASTERS_ON_A_B_C,
            { id: "r0", master: "m0", host: "a" },
            { id: "r1", master: "m1", host: "b" },
            { id: "r2", master: "m2", host: "c" },
        ];
        const output = place(nodes);
        expect(output.filter((l) => l.startsWith("shared"))).toEqual([]);
        const placed = after(nodes, output);
        expectReplicasApart(nodes, placed);
        expect(new Set(Object.values(placed)).size).toBe(3);
    });

    test("a placement already apart is left alone", () => {
        const nodes: Node[] = [
            ...MASTERS_ON_A_B_C,
            { id: "r0", master: "m0", host: "b" },
            { id: "r1", master: "m1", host: "c" },
            { id: "r2", master: "m2", host: "a" },
        ];
        expect(place(nodes)).toEqual([]);
    });

    test("zones first when every node has one: two hosts of one zone are not apart enough", () => {
        const nodes: Node[] = [
            { id: "m0", slots: true, host: "a1", zone: "z1" },
            { id: "m1", slots: true, host: "b1", zone: "z2" },
            { id: "r0", master: "m0", host: "a2", zone: "z1" },
            { id: "r1", master: "m1", host: "b2", zone: "z2" },
        ];
        expect(place(nodes)).toEqual(["replicate r0 m1", "replicate r1 m0"]);
    });

    test("zones that cannot separate every pair fall back to hosts", () => {
        const nodes: Node[] = [
            { id: "m0", slots: true, host: "a1", zone: "z1" },
            { id: "m1", slots: true, host: "a2", zone: "z1" },
            { id: "r0", master: "m0", host: "a1", zone: "z1" },
            { id: "r1", master: "m1", host: "b1", zone: "z2" },
        ];
        const placed = after(nodes, place(nodes));
        expect(placed).toEqual({ r0: "m1", r1: "m0" });
    });

    test("an empty master turned replica (scale-out) gets the master left without one", () => {
        const nodes: Node[] = [
            { id: "m0", slots: true, host: "a" },
            { id: "m1", slots: true, host: "b" },
            { id: "r0", master: "m1", host: "a" },
            { id: "n1", host: "c" },
        ];
        expect(place(nodes)).toEqual(["replicate n1 m0"]);
    });

    test("one host only (a laptop): impossible, reported per replica, replicas kept balanced", () => {
        const nodes: Node[] = [
            { id: "m0", slots: true, host: "kind" },
            { id: "m1", slots: true, host: "kind" },
            { id: "r0", master: "m0", host: "kind" },
            { id: "r1", master: "m0", host: "kind" },
        ];
        const output = place(nodes);
        expect(output.filter((l) => l.startsWith("shared"))).toHaveLength(2);
        expect(output.every((l) => /^shared \S+ \S+ same-host$|^replicate /.test(l))).toBe(true);
        const placed = after(nodes, output);
        expect(Object.values(placed).sort()).toEqual(["m0", "m1"]);
    });

    test("two replicas per master over three hosts", () => {
        const nodes: Node[] = [
            ...MASTERS_ON_A_B_C,
            ...["a", "a", "b", "b", "c", "c"].map((host, i) => ({ id: `r${i}`, master: `m${Math.floor(i / 2)}`, host })),
        ];
        const output = place(nodes, 2);
        expect(output.filter((l) => l.startsWith("shared"))).toEqual([]);
        const placed = after(nodes, output);
        expectReplicasApart(nodes, placed);
        for (const master of ["m0", "m1", "m2"]) expect(Object.values(placed).filter((m) => m === master)).toHaveLength(2);
    });
});
