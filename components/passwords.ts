// Passwords of the stack's services: supplied by the caller (a vault, stack secrets) or generated
// once by @pulumi/random and kept in the stack's state. Either way the value is a secret output.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** Length of a generated password (letters and digits only: safe in URLs, redis.conf and pgpass). */
const GENERATED_PASSWORD_LENGTH = 32;

/**
 * The supplied password, or a RandomPassword named `name` when none is supplied. Marked secret
 * here, because RandomPassword.result is secret in a real engine but not under mocks, and a
 * supplied value may arrive as a plain string.
 */
export function stackPassword(name: string, supplied: pulumi.Input<string> | undefined, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
    if (supplied !== undefined) return pulumi.secret(supplied);
    return pulumi.secret(new random.RandomPassword(name, { length: GENERATED_PASSWORD_LENGTH, special: false }, opts).result);
}
