// What a local run (npm run loadtest:local, tests/live/nginx.test.ts) changes in the stack's
// nginx.conf options: the upstream, the ports, the writable paths and the certificate, nothing else.
import { renderNginxConf } from "../../components";
import { deployedNginxConfOptions, localNginxConfOptions } from "../../scripts/local-nginx";

describe("local nginx options", () => {
    const deployed = deployedNginxConfOptions("prod");
    const local = localNginxConfOptions(deployed, {
        dir: "/tmp/run/nginx",
        servers: ["127.0.0.1:9001", "127.0.0.1:9002"],
        listenPort: 18080,
        statusPort: 18081,
        accessLogSyslog: "127.0.0.1:15140",
        tls: { listenPort: 18443, certificateFile: "/tmp/run/tls/server/tls.crt", keyFile: "/tmp/run/tls/server/tls.key" },
    });

    test("TLS listens on the local port, which redirects name, with the local certificate; its other settings as deployed", () => {
        expect(deployed.tls.certificateFile).not.toBe(local.tls.certificateFile);
        expect(local.tls).toEqual({
            ...deployed.tls,
            listenPort: 18443,
            publicPort: 18443,
            certificateFile: "/tmp/run/tls/server/tls.crt",
            keyFile: "/tmp/run/tls/server/tls.key",
        });
        const conf = renderNginxConf(local);
        expect(conf).toContain("listen 18443 ssl default_server;");
        expect(conf).toContain("ssl_certificate /tmp/run/tls/server/tls.crt;");
        expect(conf).toContain("ssl_certificate_key /tmp/run/tls/server/tls.key;");
        expect(conf).toContain("return 308 https://$host:18443$request_uri;");
        expect(conf).not.toContain("/etc/nginx/tls");
    });

    test("only the upstream, ports, paths, access log and certificate differ from the deployed options", () => {
        const { upstream, listenPort, statusPort, paths, accessLogSyslog, tls, ...rest } = local;
        const { upstream: _u, listenPort: _l, statusPort: _s, paths: _p, accessLogSyslog: _a, tls: _t, ...deployedRest } = deployed;
        expect(rest).toEqual(deployedRest);
        expect({ upstream, listenPort, statusPort, paths, accessLogSyslog, listenTls: tls.listenPort }).toEqual({
            upstream: { kind: "static", servers: ["127.0.0.1:9001", "127.0.0.1:9002"] },
            listenPort: 18080,
            statusPort: 18081,
            paths: { pidFile: "/tmp/run/nginx/nginx.pid", tempDir: "/tmp/run/nginx/tmp", errorLog: "/tmp/run/nginx/error.log" },
            accessLogSyslog: "127.0.0.1:15140",
            listenTls: 18443,
        });
    });
});
