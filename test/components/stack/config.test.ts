import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError, checkArchitectures, chooseZone, parseSettings, type ZoneOffering } from "../../../components/stack/config";
import { BUNDLED_MATTERMOST, KNOWN_BAD_PATCHES, compareLines, formatLine, formatVersion } from "../../../components/versions/versions";
import { assertConfigRejected, parseConfig, rawConfig, stackConfig } from "../../support/stackConfig";

describe("parseSettings: valid configurations", () => {
    it("applies the documented defaults", () => {
        const settings = parseConfig(stackConfig("single", { gitlab: undefined, tls: undefined }));
        assert.equal(settings.topology, "single");
        assert.equal(settings.gitlab.edition, "ee");
        assert.equal(formatVersion(settings.gitlab.version), "18.11.11");
        assert.equal(settings.gitlab.instanceType, "c6a.xlarge");
        assert.equal(settings.gitlab.volumeSizeGiB, 100);
        assert.equal(settings.mattermost.instanceType, "c6a.large");
        assert.equal(settings.mattermost.volumeSizeGiB, 50);
        assert.deepEqual(settings.mattermost.env, {});
        assert.equal(settings.mattermost.uid, undefined);
        assert.deepEqual(settings.tls, { mode: "letsencrypt" });
        assert.equal(settings.oauth.rotation, 0);
    });

    it("defaults topology to single when it is absent", () => {
        assert.equal(parseConfig(stackConfig("single", { topology: undefined })).topology, "single");
    });

    it("normalizes URLs and the zone, and keeps IPv4 blocks as given", () => {
        const settings = parseConfig(
            stackConfig("split", {
                externalUrl: "https://GitLab.Example.com/",
                dnsZone: "Example.COM.",
                ssh: { allowedCidrs: ["203.0.113.0/24", "198.51.100.7/32"] },
            }),
        );
        assert.deepEqual(settings.externalUrl, { scheme: "https", host: "gitlab.example.com", href: "https://gitlab.example.com" });
        assert.equal(settings.dnsZone, "example.com");
        assert.deepEqual(settings.ssh.allowedCidrs, ["203.0.113.0/24", "198.51.100.7/32"]);
    });

    it("reaches the hosts directly from ssh.allowedCidrs unless ssh.access says otherwise", () => {
        assert.deepEqual(parseConfig(stackConfig("single")).ssh, { access: "direct", allowedCidrs: ["203.0.113.0/24"] });
        assert.deepEqual(parseConfig(stackConfig("single", { ssh: { access: "direct", allowedCidrs: ["203.0.113.0/24"] } })).ssh.access, "direct");
    });

    it("opens no SSH networks with Systems Manager access", () => {
        assert.deepEqual(parseConfig(stackConfig("split", { ssh: { access: "ssm" } })).ssh, { access: "ssm", allowedCidrs: [] });
    });

    it("accepts every private-use range together with an office's block", () => {
        const allowedCidrs = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "203.0.113.0/24"];
        assert.deepEqual(parseConfig(stackConfig("single", { ssh: { allowedCidrs } })).ssh.allowedCidrs, allowedCidrs);
    });

    it("serves http without TLS when both URLs are http", () => {
        const settings = parseConfig(
            stackConfig("single", { externalUrl: "http://gitlab.example.com", mattermostExternalUrl: "http://mattermost.example.com", tls: undefined }),
        );
        assert.deepEqual(settings.tls, { mode: "none" });
    });

    it("accepts whole numbers written as strings, as `pulumi config set --path` may store them", () => {
        const settings = parseConfig(stackConfig("split", { gitlab: { volumeSizeGiB: "200" }, mattermost: { uid: "1001", gid: 60000 }, oauth: { rotation: "3" } }));
        assert.equal(settings.gitlab.volumeSizeGiB, 200);
        assert.equal(settings.mattermost.uid, 1001);
        assert.equal(settings.mattermost.gid, 60000);
        assert.equal(settings.oauth.rotation, 3);
    });

    it("keeps mattermost.env exactly, sorted by name", () => {
        const env = { NO_PROXY: "localhost,127.0.0.1", HTTP_PROXY: "http://p:3128", _X: "a'b\"c#{d}" };
        assert.deepEqual(Object.entries(parseConfig(stackConfig("split", { mattermost: { env } })).mattermost.env), [
            ["HTTP_PROXY", "http://p:3128"],
            ["NO_PROXY", "localhost,127.0.0.1"],
            ["_X", "a'b\"c#{d}"],
        ]);
    });

    it("allows a hostname at the zone apex", () => {
        assert.equal(parseConfig(stackConfig("single", { externalUrl: "https://example.com" })).externalUrl.host, "example.com");
    });
});

/** The refusal of an IPv6 block: why (nothing of the stack has IPv6) and what to do instead. */
const IPV6_REFUSED =
    /is an IPv6 block, but the stack's network is IPv4 only: its VPC, subnet, hosts and DNS names have no IPv6 address, so SSH from an IPv6 network could never arrive\. Allow that network's IPv4 block instead, or a bastion \(jump host\) that has IPv4\./;

describe("parseSettings: bad input names the key and says what to do", () => {
    const single = (overrides: Record<string, unknown>) => stackConfig("single", overrides);
    const split = (overrides: Record<string, unknown>) => stackConfig("split", overrides);
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
        ["missing externalUrl", single({ externalUrl: undefined }), "externalUrl", /is required.*pulumi config set externalUrl/],
        ["missing mattermostExternalUrl", single({ mattermostExternalUrl: undefined }), "mattermostExternalUrl", /is required/],
        ["URL without a scheme", single({ externalUrl: "gitlab.example.com" }), "externalUrl", /is not a URL/],
        ["URL with another scheme", single({ externalUrl: "ftp://gitlab.example.com" }), "externalUrl", /must use http or https/],
        ["URL with a path", single({ externalUrl: "https://gitlab.example.com/gitlab" }), "externalUrl", /must not have a path/],
        ["URL with a query", single({ mattermostExternalUrl: "https://mattermost.example.com/?a=1" }), "mattermostExternalUrl", /must not have a path, query/],
        ["URL with a port", single({ externalUrl: "https://gitlab.example.com:8443" }), "externalUrl", /default port.*:8443/],
        ["URL with credentials", single({ externalUrl: "https://root:pw@gitlab.example.com" }), "externalUrl", /user or password/],
        ["URL with an IP address", single({ externalUrl: "https://192.0.2.1" }), "externalUrl", /must name a DNS host/],
        ["both URLs on one hostname", single({ mattermostExternalUrl: "https://gitlab.example.com" }), "mattermostExternalUrl", /same hostname.*mattermost\.example\.com/],
        ["mixed schemes", single({ mattermostExternalUrl: "http://mattermost.example.com" }), "mattermostExternalUrl", /https for both/],
        ["hostname outside dnsZone", single({ mattermostExternalUrl: "https://chat.example.org" }), "mattermostExternalUrl", /not in dnsZone example\.com/],
        ["a zone that only shares a suffix", single({ externalUrl: "https://gitlab.badexample.com" }), "externalUrl", /not in dnsZone/],
        ["missing dnsZone", single({ dnsZone: undefined }), "dnsZone", /is required.*Route53/],
        ["unknown topology", single({ topology: "ha" }), "topology", /"single".*"split".*"ha"/],
        ["version without a patch", single({ gitlab: { version: "18.11" } }), "gitlab.version", /full version x\.y\.z/],
        ["version with a suffix", single({ gitlab: { version: "18.11.11-ee.0" } }), "gitlab.version", /full version x\.y\.z/],
        ["version 19.0", single({ gitlab: { version: "19.0.0" } }), "gitlab.version", /19\.0 removed bundled Mattermost \(18\.11\.x is the last release line.*mattermost\.mode is not set.*mattermost\.mode standalone/],
        ["version after 19.0", split({ gitlab: { version: "19.3.0" } }), "gitlab.version", /removed bundled Mattermost.*pulumi config set topology split/],
        ["version 19.x with mattermost.mode bundled", split({ gitlab: { version: "19.3.0" }, mattermost: { mode: "bundled" } }), "gitlab.version", /mattermost\.mode is bundled.*set --path mattermost\.mode standalone/],
        ["version without an Ubuntu 24.04 package", single({ gitlab: { version: "16.11.10" } }), "gitlab.version", /Ubuntu 24\.04.*17\.1\.0/],
        ["unknown edition", single({ gitlab: { edition: "ultimate" } }), "gitlab.edition", /"ee" or "ce"/],
        ["ARM GitLab instance type", single({ gitlab: { instanceType: "m7g.xlarge" } }), "gitlab.instanceType", /ARM.*x86_64/],
        ["ARM Mattermost instance type", split({ mattermost: { instanceType: "t4g.large" } }), "mattermost.instanceType", /ARM.*linux-amd64/],
        ["Graviton a1 family", single({ gitlab: { instanceType: "a1.large" } }), "gitlab.instanceType", /ARM/],
        ["malformed instance type", single({ gitlab: { instanceType: "large" } }), "gitlab.instanceType", /EC2 instance type/],
        ["volume too small", single({ gitlab: { volumeSizeGiB: 10 } }), "gitlab.volumeSizeGiB", /20 to 16384/],
        ["Mattermost instance type in single topology", single({ mattermost: { instanceType: "c6a.large" } }), "mattermost.instanceType", /only to topology split/],
        ["Mattermost volume in single topology", single({ mattermost: { volumeSizeGiB: 60 } }), "mattermost.volumeSizeGiB", /only to topology split/],
        ["env name starting with a digit", split({ mattermost: { env: { "1PROXY": "x" } } }), "mattermost.env.1PROXY", /not a valid environment variable name/],
        ["env name with a hyphen", split({ mattermost: { env: { "HTTP-PROXY": "x" } } }), "mattermost.env.HTTP-PROXY", /letters, digits and underscores/],
        ["env name with a space", split({ mattermost: { env: { "A B": "x" } } }), "mattermost.env.A B", /not a valid/],
        ["env value that is not a string", split({ mattermost: { env: { PORT: 8080 } } }), "mattermost.env.PORT", /must be a string/],
        ["env as a list", split({ mattermost: { env: ["A=b"] } }), "mattermost.env", /map of variable names/],
        ["uid zero", split({ mattermost: { uid: 0 } }), "mattermost.uid", /from 1001 to 60000/],
        ["negative uid", split({ mattermost: { uid: -5 } }), "mattermost.uid", /from 1001 to 60000/],
        ["fractional gid", split({ mattermost: { gid: 1.5 } }), "mattermost.gid", /whole number from 1001/],
        ["gid as a name", split({ mattermost: { gid: "mattermost" } }), "mattermost.gid", /whole number from 1001/],
        ["the ubuntu user's uid", split({ mattermost: { uid: 1000 } }), "mattermost.uid", /1000 is the image's ubuntu account/],
        ["the ubuntu group's gid", split({ mattermost: { gid: "1000" } }), "mattermost.gid", /1000 is the image's ubuntu account/],
        ["a system uid", split({ mattermost: { uid: 999 } }), "mattermost.uid", /below it are allocated to system accounts/],
        ["a uid past Ubuntu's UID_MAX", split({ mattermost: { uid: 60001 } }), "mattermost.uid", /from 1001 to 60000/],
        ["nobody's uid", split({ mattermost: { uid: 65534 } }), "mattermost.uid", /from 1001 to 60000/],
        ["missing SSH CIDRs", single({ ssh: undefined }), "ssh.allowedCidrs", /is required.*no open default/],
        ["empty SSH CIDR list", single({ ssh: { allowedCidrs: [] } }), "ssh.allowedCidrs", /non-empty list/],
        ["direct access without SSH CIDRs", single({ ssh: { access: "direct" } }), "ssh.allowedCidrs", /required with ssh.access direct.*ssh.access ssm/],
        ["an unknown SSH access mode", single({ ssh: { access: "bastion", allowedCidrs: ["203.0.113.0/24"] } }), "ssh.access", /must be direct or ssm, got "bastion"/],
        ["SSH access given as a list", single({ ssh: { access: ["ssm"] } }), "ssh.access", /must be direct or ssm/],
        ["SSH CIDRs with Systems Manager access", single({ ssh: { access: "ssm", allowedCidrs: ["203.0.113.0/24"] } }), "ssh.allowedCidrs", /no use with ssh.access ssm.*pulumi config rm --path ssh.allowedCidrs/],
        ["an unknown ssh field", single({ ssh: { acess: "ssm" } }), "ssh.acess", /not a known field/],
        ["CIDR without a prefix", single({ ssh: { allowedCidrs: ["203.0.113.7"] } }), "ssh.allowedCidrs[0]", /not a CIDR block/],
        ["CIDR with a bad prefix", single({ ssh: { allowedCidrs: ["10.0.0.0/8", "203.0.113.0/33"] } }), "ssh.allowedCidrs[1]", /invalid prefix length/],
        ["CIDR with a bad address", single({ ssh: { allowedCidrs: ["203.0.113.256/24"] } }), "ssh.allowedCidrs[0]", /invalid address/],
        ["CIDR with host bits", single({ ssh: { allowedCidrs: ["203.0.113.7/24"] } }), "ssh.allowedCidrs[0]", /did you mean 203\.0\.113\.0\/24/],
        ["SSH open to the world", single({ ssh: { allowedCidrs: ["0.0.0.0/0"] } }), "ssh.allowedCidrs", /0\.0\.0\.0\/0 covers every IPv4 address: that is the whole internet/],
        ["SSH open to the world in two halves", single({ ssh: { allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"] } }), "ssh.allowedCidrs", /0\.0\.0\.0\/1 \+ 128\.0\.0\.0\/1 together cover every IPv4 address/],
        ["SSH open to half the internet", single({ ssh: { allowedCidrs: ["128.0.0.0/1"] } }), "ssh.allowedCidrs", /more public IPv4 addresses than a \/8/],
        ["SSH open to two public /8s", single({ ssh: { allowedCidrs: ["11.0.0.0/8", "12.0.0.0/8"] } }), "ssh.allowedCidrs", /together cover more public IPv4 addresses than a \/8/],
        ["CIDR with an IPv6 zone id", single({ ssh: { allowedCidrs: ["fe80::%eth0/64"] } }), "ssh.allowedCidrs[0]", /zone id "%eth0".*fe80::\/64/],
        ["IPv4 CIDR in octal", single({ ssh: { allowedCidrs: ["010.0.0.0/8"] } }), "ssh.allowedCidrs[0]", /invalid address "010\.0\.0\.0" \(IPv4 as four decimal numbers/],
        ["IPv4 CIDR in hexadecimal", single({ ssh: { allowedCidrs: ["0xcb.0.113.0/24"] } }), "ssh.allowedCidrs[0]", /invalid address/],
        ["IPv6 CIDR with two ::", single({ ssh: { allowedCidrs: ["2001::db8::/32"] } }), "ssh.allowedCidrs[0]", /invalid address/],
        ["CIDR with an empty prefix", single({ ssh: { allowedCidrs: ["203.0.113.0/"] } }), "ssh.allowedCidrs[0]", /invalid prefix length "\/"/],
        ["CIDR with a signed prefix", single({ ssh: { allowedCidrs: ["203.0.113.0/+24"] } }), "ssh.allowedCidrs[0]", /invalid prefix length/],
        ["the same CIDR twice", single({ ssh: { allowedCidrs: ["203.0.113.0/24", "198.51.100.0/24", "203.0.113.0/24"] } }), "ssh.allowedCidrs[2]", /203\.0\.113\.0\/24 is the same block as ssh\.allowedCidrs\[0\] 203\.0\.113\.0\/24.*Remove one/],
        // The network is IPv4 only: an IPv6 block is refused by its family, before any judgement of the list.
        ["an IPv6 block beside an IPv4 one", single({ ssh: { allowedCidrs: ["203.0.113.0/24", "2001:db8::/48"] } }), "ssh.allowedCidrs[1]", /"2001:db8::\/48" is an IPv6 block/],
        ["SSH open to the IPv6 world", single({ ssh: { allowedCidrs: ["::/0"] } }), "ssh.allowedCidrs[0]", IPV6_REFUSED],
        ["the IPv6 world in two halves", single({ ssh: { allowedCidrs: ["203.0.113.0/24", "8000::/1", "::/1"] } }), "ssh.allowedCidrs[1]", IPV6_REFUSED],
        ["the same IPv6 block spelled twice", single({ ssh: { allowedCidrs: ["2001:db8::/48", "2001:DB8:0:0::/48"] } }), "ssh.allowedCidrs[0]", IPV6_REFUSED],
        ["an IPv6 block with host bits", single({ ssh: { allowedCidrs: ["2001:db8::1/48"] } }), "ssh.allowedCidrs[0]", IPV6_REFUSED],
        ["an IPv4-mapped IPv6 block", single({ ssh: { allowedCidrs: ["::ffff:203.0.113.0/120"] } }), "ssh.allowedCidrs[0]", IPV6_REFUSED],
        ["a unique local IPv6 block", single({ ssh: { allowedCidrs: ["fd00::/8"] } }), "ssh.allowedCidrs[0]", IPV6_REFUSED],
        ["a CIDR inside another", single({ ssh: { allowedCidrs: ["198.51.100.64/26", "198.51.100.0/24"] } }), "ssh.allowedCidrs[0]", /198\.51\.100\.64\/26 lies inside ssh\.allowedCidrs\[1\] 198\.51\.100\.0\/24/],
        ["letsencrypt with http URLs", single({ externalUrl: "http://gitlab.example.com", mattermostExternalUrl: "http://mattermost.example.com", tls: { mode: "letsencrypt" } }), "tls.mode", /letsencrypt.*http.*https/],
        ["a contact e-mail with http URLs", single({ externalUrl: "http://gitlab.example.com", mattermostExternalUrl: "http://mattermost.example.com" }), "tls.contactEmail", /applies only to tls.mode letsencrypt, but the URLs are http and no certificate is used/],
        ["unknown TLS mode", single({ tls: { mode: "acme" } }), "tls.mode", /"letsencrypt"/],
        ["malformed contact e-mail", single({ tls: { contactEmail: "ops" } }), "tls.contactEmail", /e-mail address/],
        ["negative OAuth rotation", single({ oauth: { rotation: -1 } }), "oauth.rotation", /whole number from 0 to 1000000/],
        ["unknown top-level key", single({ externalURL: "https://gitlab.example.com" }), "externalURL", /not a known key.*pulumi config rm/],
        ["unknown field", single({ gitlab: { versoin: "18.11.11" } }), "gitlab.versoin", /not a known field.*version/],
        ["object key given a plain string", single({ gitlab: "18.11.11" }), "gitlab", /must be an object/],
    ];
    for (const [title, config, key, message] of cases) {
        it(title, () => assertConfigRejected(config, key, message));
    }
});

describe("ssh.allowedCidrs: IPv4 only", () => {
    it("refuses an IPv6 block wherever it stands in a valid IPv4 list, naming its index", () => {
        const offices = fc.uniqueArray(fc.nat(255), { minLength: 0, maxLength: 4 }).map((octets) => octets.map((octet) => `198.51.${octet}.0/24`));
        const ipv6 = fc.tuple(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 })).map(([hextets, prefix]) => `${hextets.map((h) => h.toString(16)).join(":")}/${prefix}`);
        fc.assert(
            fc.property(offices, ipv6, fc.nat(), (ipv4Blocks, block, at) => {
                const index = at % (ipv4Blocks.length + 1);
                assertConfigRejected(stackConfig("single", { ssh: { allowedCidrs: ipv4Blocks.toSpliced(index, 0, block) } }), `ssh.allowedCidrs[${index}]`, IPV6_REFUSED);
            }),
        );
    });
});

describe("checkArchitectures", () => {
    it("accepts a type that supports x86_64", () => {
        assert.doesNotThrow(() => checkArchitectures("gitlab.instanceType", "c6a.xlarge", ["i386", "x86_64"]));
    });

    it("refuses a type that EC2 reports as arm64 only, whatever its name", () => {
        assert.throws(
            () => checkArchitectures("mattermost.instanceType", "z9.large", ["arm64"]),
            (error: unknown) => error instanceof ConfigError && error.key === "mattermost.instanceType" && /supports only arm64/.test(error.message),
        );
    });
});

describe("chooseZone", () => {
    const zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
    const offering = (key: string, instanceType: string, offered: string[]): ZoneOffering => ({ key, instanceType, zones: offered });

    const cases: { name: string; offerings: ZoneOffering[]; zone: string }[] = [
        { name: "every zone offers it: the region's first", offerings: [offering("gitlab.instanceType", "c6a.xlarge", zones)], zone: "eu-west-1a" },
        { name: "the first zone that offers it", offerings: [offering("gitlab.instanceType", "m7i.large", ["eu-west-1c", "eu-west-1b"])], zone: "eu-west-1b" },
        {
            name: "the first zone that offers both hosts' types",
            offerings: [offering("gitlab.instanceType", "c6a.xlarge", ["eu-west-1a", "eu-west-1c"]), offering("mattermost.instanceType", "m7i.large", ["eu-west-1b", "eu-west-1c"])],
            zone: "eu-west-1c",
        },
    ];
    for (const { name, offerings, zone } of cases) {
        it(name, () => assert.equal(chooseZone(zones, offerings), zone));
    }

    it("refuses a type no available zone offers, naming its key", () => {
        assert.throws(
            () => chooseZone(zones, [offering("gitlab.instanceType", "c6a.xlarge", zones), offering("mattermost.instanceType", "x9.large", ["eu-west-1z"])]),
            (error: unknown) =>
                error instanceof ConfigError && error.key === "mattermost.instanceType" && /is x9\.large, which this region offers in none of its available zones\. Choose an instance type the region offers\.$/.test(error.message),
        );
    });

    it("refuses types no one zone offers together, naming both keys and where each is offered", () => {
        assert.throws(
            () => chooseZone(zones, [offering("gitlab.instanceType", "c6a.xlarge", ["eu-west-1a"]), offering("mattermost.instanceType", "m7i.large", ["eu-west-1b", "eu-west-1c"])]),
            (error: unknown) =>
                error instanceof ConfigError &&
                error.key === "gitlab.instanceType" &&
                error.message ===
                    "gitlab-mattermost:gitlab.instanceType is c6a.xlarge, offered only in eu-west-1a; mattermost.instanceType is m7i.large, offered only in eu-west-1b, eu-west-1c. The hosts share one zone: choose instance types that one zone offers together.",
        );
    });

    it("keeps the zone the hosts are in, even where another would be first", () => {
        const offerings = [offering("gitlab.instanceType", "c6a.xlarge", zones), offering("mattermost.instanceType", "c6a.large", ["eu-west-1b", "eu-west-1c"])];
        assert.equal(chooseZone(zones, offerings, "eu-west-1c"), "eu-west-1c");
    });

    it("refuses a type the hosts' zone does not offer rather than move them, naming its key", () => {
        assert.throws(
            () => chooseZone(zones, [offering("gitlab.instanceType", "c6a.xlarge", zones), offering("mattermost.instanceType", "m7i.large", ["eu-west-1b", "eu-west-1c"])], "eu-west-1a"),
            (error: unknown) =>
                error instanceof ConfigError &&
                error.key === "mattermost.instanceType" &&
                error.message ===
                    "gitlab-mattermost:mattermost.instanceType is m7i.large, which eu-west-1a, the zone the hosts are in, does not offer (offered in eu-west-1b, eu-west-1c). Moving the hosts to another zone would replace them; choose an instance type eu-west-1a offers.",
        );
    });

    it("returns the hosts' zone or else the first that offers every type, or refuses exactly when there is none", () => {
        const zoneName = fc.constantFrom(...zones, "eu-west-1d");
        fc.assert(
            fc.property(
                fc.uniqueArray(fc.constantFrom(...zones), { minLength: 1 }),
                fc.array(fc.uniqueArray(zoneName), { minLength: 1, maxLength: 3 }),
                fc.option(zoneName, { nil: undefined }),
                (available, offeredZones, current) => {
                    const offerings = offeredZones.map((offered, index) => offering(`host${index}.instanceType`, `t${index}.large`, offered));
                    const candidates = current === undefined ? available : [current];
                    const common = candidates.filter((zone) => offeredZones.every((offered) => offered.includes(zone)));
                    if (common.length === 0) {
                        assert.throws(() => chooseZone(available, offerings, current), ConfigError);
                    } else {
                        assert.equal(chooseZone(available, offerings, current), common[0]);
                    }
                },
            ),
        );
    });
});

describe("parseSettings: mail, e-mail batching and the GitLab plugin", () => {
    const smtp = { host: "smtp.example.com", username: "gitlab", password: "pw", from: "gitlab@example.com" };

    it("reads an SMTP server with defaults: port 587, STARTTLS", () => {
        const settings = parseConfig(stackConfig("single", { mail: smtp }));
        assert.deepEqual(settings.mail, { provider: "smtp", host: "smtp.example.com", port: 587, security: "STARTTLS", username: "gitlab", password: "pw", from: "gitlab@example.com" });
    });

    it("reads SES with only the sender identity", () => {
        const settings = parseConfig(stackConfig("single", { mail: { provider: "ses", from: "gitlab@example.com", replyTo: "noreply@example.com", fromName: "Our GitLab" } }));
        assert.deepEqual(settings.mail, { provider: "ses", from: "gitlab@example.com", replyTo: "noreply@example.com", fromName: "Our GitLab" });
    });

    it("reads batching with Mattermost's defaults, and the plugin switch", () => {
        const settings = parseConfig(stackConfig("split", { mail: smtp, mattermost: { emailBatching: { enabled: true }, gitlabPlugin: { enabled: true } } }));
        assert.deepEqual(settings.mattermost.emailBatching, { enabled: true, bufferSize: 256, intervalSeconds: 30 });
        assert.equal(settings.mattermost.gitlabPlugin, true);
        assert.equal(parseConfig(stackConfig("split")).mattermost.gitlabPlugin, false);
    });

    const cases: [string, Record<string, unknown>, string, RegExp][] = [
        ["an invalid sender address", stackConfig("single", { mail: { ...smtp, from: "gitlab" } }), "mail.from", /must be an e-mail address/],
        ["an invalid reply-to address", stackConfig("single", { mail: { ...smtp, replyTo: "a b@example.com" } }), "mail.replyTo", /must be an e-mail address/],
        ["a missing sender", stackConfig("single", { mail: { host: "smtp.example.com" } }), "mail.from", /is required/],
        ["a port out of range", stackConfig("single", { mail: { ...smtp, port: 70000 } }), "mail.port", /1 to 65535/],
        ["a port of zero", stackConfig("single", { mail: { ...smtp, port: 0 } }), "mail.port", /1 to 65535/],
        ["an unknown security mode", stackConfig("single", { mail: { ...smtp, security: "SSL" } }), "mail.security", /"none", "TLS", "STARTTLS"/],
        ["credentials over a plain connection", stackConfig("single", { mail: { ...smtp, security: "none" } }), "mail.security", /only over TLS or STARTTLS/],
        ["a user without a password", stackConfig("single", { mail: { host: "smtp.example.com", username: "gitlab", from: "gitlab@example.com" } }), "mail.password", /give both/],
        ["no SMTP host", stackConfig("single", { mail: { from: "gitlab@example.com" } }), "mail.host", /SMTP server's hostname/],
        ["an unknown provider", stackConfig("single", { mail: { ...smtp, provider: "sendgrid" } }), "mail.provider", /"smtp".*"ses"/],
        ["an SMTP host with SES", stackConfig("single", { mail: { provider: "ses", host: "smtp.example.com", from: "gitlab@example.com" } }), "mail.host", /set by Amazon SES/],
        ["an SES sender outside dnsZone", stackConfig("single", { mail: { provider: "ses", from: "gitlab@example.org" } }), "mail.from", /SES verifies the domain example\.com/],
        ["batching without mail", stackConfig("split", { mattermost: { emailBatching: { enabled: true } } }), "mattermost.emailBatching.enabled", /needs mail/],
        ["a batching interval of zero", stackConfig("split", { mail: smtp, mattermost: { emailBatching: { intervalSeconds: 0 } } }), "mattermost.emailBatching.intervalSeconds", /30 to 86400/],
        ["an unknown batching field", stackConfig("split", { mail: smtp, mattermost: { emailBatching: { size: 5 } } }), "mattermost.emailBatching.size", /not a known field/],
        [
            "the plugin with http GitLab and https Mattermost",
            stackConfig("split", { externalUrl: "http://gitlab.example.com", tls: undefined, mattermost: { gitlabPlugin: { enabled: true } } }),
            "mattermost.gitlabPlugin.enabled",
            /GitLab is http and Mattermost is https: the plugin's OAuth redirect would not match/,
        ],
        [
            "the plugin with https GitLab and http Mattermost",
            stackConfig("split", { mattermostExternalUrl: "http://mattermost.example.com", mattermost: { gitlabPlugin: { enabled: true } } }),
            "mattermost.gitlabPlugin.enabled",
            /GitLab is https and Mattermost is http/,
        ],
        ["a plugin switch that is not a boolean", stackConfig("split", { mattermost: { gitlabPlugin: { enabled: "yes" } } }), "mattermost.gitlabPlugin.enabled", /true or false/],
        [
            "an env entry that collides with the mail settings",
            stackConfig("split", { mail: smtp, mattermost: { env: { MM_EMAILSETTINGS_SMTPSERVER: "other" } } }),
            "mattermost.env.MM_EMAILSETTINGS_SMTPSERVER",
            /collides with MM_EMAILSETTINGS_SMTPSERVER, which this program sets because mail is configured/,
        ],
        [
            "an env entry that collides with batching",
            stackConfig("split", { mail: smtp, mattermost: { env: { MM_EMAILSETTINGS_ENABLEEMAILBATCHING: "false" }, emailBatching: { enabled: true } } }),
            "mattermost.env.MM_EMAILSETTINGS_ENABLEEMAILBATCHING",
            /because mattermost\.emailBatching is configured/,
        ],
        [
            "an env entry that turns local mode off",
            stackConfig("split", { mattermost: { env: { MM_SERVICESETTINGS_ENABLELOCALMODE: "false" } } }),
            "mattermost.env.MM_SERVICESETTINGS_ENABLELOCALMODE",
            /because the mmctl wrapper, the first administrator's step and the GitLab plugin step talk to Mattermost in local mode/,
        ],
    ];
    for (const [title, config, key, message] of cases) {
        it(`refuses ${title}`, () => assertConfigRejected(config, key, message));
    }

    it("lets mattermost.env set mail variables when mail is not configured", () => {
        assert.equal(parseConfig(stackConfig("split", { mattermost: { env: { MM_EMAILSETTINGS_SMTPSERVER: "relay" } } })).mattermost.env.MM_EMAILSETTINGS_SMTPSERVER, "relay");
    });
});

describe("parseSettings: values reach their consumers as written", () => {
    const smtp = { host: "smtp.example.com", username: "gitlab", password: "pw", from: "gitlab@example.com" };
    const withEnv = (env: Record<string, unknown>) => stackConfig("split", { mattermost: { instanceType: "c6a.large", env } });

    it("keeps env variables named like Object.prototype members, __proto__ included", () => {
        for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
            const env = parseConfig(withEnv({ [name]: "x" })).mattermost.env;
            assert.ok(Object.hasOwn(env, name), name);
            assert.equal(env[name], "x");
        }
        // An object literal cannot hold an own __proto__ key; JSON can, as Pulumi hands it over.
        const raw = { ...rawConfig(withEnv({})), mattermost: '{"instanceType":"c6a.large","env":{"__proto__":"kept"}}' };
        const env = parseSettings(raw).mattermost.env;
        assert.deepEqual(Object.entries(env), [["__proto__", "kept"]]);
        assert.equal(Object.getPrototypeOf(env), Object.prototype);
    });

    it("refuses keys and modes named like Object.prototype members", () => {
        assertConfigRejected(stackConfig("single", { constructor: "x" }), "constructor", /not a known key/);
        assertConfigRejected(stackConfig("single", { tls: { mode: "toString" } }), "tls.mode", /must be one of/);
        assertConfigRejected(stackConfig("single", { tls: { mode: "__proto__" } }), "tls.mode", /must be one of/);
    });

    it("refuses a lone surrogate wherever it is, naming the key", () => {
        assertConfigRejected(withEnv({ HTTP_PROXY: "http://proxy\ud800" }), "mattermost.env.HTTP_PROXY", /lone UTF-16 surrogate/);
        assertConfigRejected(stackConfig("single", { mail: { ...smtp, fromName: "Git\udfffLab" } }), "mail.fromName", /lone UTF-16 surrogate/);
        assertConfigRejected(stackConfig("single", { externalUrl: "https://gitlab.example.com\ud83d" }), "externalUrl", /lone UTF-16 surrogate/);
        assert.equal(parseConfig(stackConfig("single", { mail: { ...smtp, fromName: "GitLab \ud83d\ude80" } })).mail?.fromName, "GitLab \ud83d\ude80");
    });

    const altered: [string, string][] = [
        ["a trailing newline", "secret\n"],
        ["a second line", "first\nsecond"],
        ["a trailing space", "secret "],
        ["a trailing tab", "secret\t"],
        ["a NUL", "sec\0ret"],
    ];
    for (const [what, value] of altered) {
        it(`refuses ${what} in values Mattermost reads from runit's env files`, () => {
            for (const field of ["username", "password", "fromName"]) {
                assertConfigRejected(stackConfig("single", { mail: { ...smtp, [field]: value } }), `mail.${field}`, /runit passes Mattermost's environment through one-line files/);
            }
            assertConfigRejected(withEnv({ HTTP_PROXY: value }), "mattermost.env.HTTP_PROXY", /one line without trailing blanks/);
        });
    }
    it("refuses an empty env value, which would unset the variable", () => {
        assertConfigRejected(withEnv({ NO_PROXY: "" }), "mattermost.env.NO_PROXY", /unsets the variable/);
    });
    it("keeps leading and inner blanks and a carriage return, which reach Mattermost unchanged", () => {
        for (const password of [" p w", "p\rw", "pw\r"]) {
            const mail = parseConfig(stackConfig("single", { mail: { ...smtp, password } })).mail;
            assert.equal(mail?.provider === "smtp" ? mail.password : undefined, password);
        }
    });

    const omnibusOwned: [string, RegExp][] = [
        ["MM_SERVICESETTINGS_SITEURL", /mattermostExternalUrl/],
        ["MM_SERVICESETTINGS_LISTENADDRESS", /service_address/],
        ["MM_SQLSETTINGS_DATASOURCE", /sql_data_source/],
        ["MM_SQLSETTINGS_ATRESTENCRYPTKEY", /gitlab-secrets\.json/],
        ["MM_FILESETTINGS_DIRECTORY", /file_directory/],
        ["MM_GITLABSETTINGS_ID", /sign-in through GitLab/],
        ["MM_GITLABSETTINGS_SECRET", /mattermost\['gitlab_\*'\]/],
        ["MM_GITLABSETTINGS_DISCOVERYENDPOINT", /sign-in through GitLab/],
        ["MM_INSTALL_TYPE", /Omnibus/],
    ];
    for (const [name, owner] of omnibusOwned) {
        it(`refuses ${name} in mattermost.env, naming what sets it`, () => {
            assertConfigRejected(withEnv({ [name]: "x" }), `mattermost.env.${name}`, new RegExp(`collides with ${name}, which Omnibus sets from .*${owner.source}`));
        });
    }

    // The same collisions on a standalone Mattermost host: its own environment file sets them, from these keys.
    const standaloneOwned: [string, RegExp][] = [
        ["MM_SERVICESETTINGS_SITEURL", /from mattermostExternalUrl/],
        ["MM_SERVICESETTINGS_LISTENADDRESS", /from mattermost \(ServiceSettings\.ListenAddress\)/],
        ["MM_SQLSETTINGS_DATASOURCE", /from mattermost \(SqlSettings\.DataSource\)/],
        ["MM_SQLSETTINGS_ATRESTENCRYPTKEY", /from mattermost \(SqlSettings\.AtRestEncryptKey\)/],
        ["MM_FILESETTINGS_DIRECTORY", /from mattermost \(FileSettings\.Directory\)/],
        ["MM_GITLABSETTINGS_ID", /from oauth/],
        ["MM_GITLABSETTINGS_DISCOVERYENDPOINT", /from oauth/],
        ["MM_GITLABSETTINGS_SOMETHINGNEW", /from oauth: the sign-in through GitLab/],
        ["MM_SERVICESETTINGS_ENABLELOCALMODE", /from mattermost \(ServiceSettings\.EnableLocalMode\)/],
        ["MM_LICENSE", /from mattermost\.license/],
    ];
    const standaloneWithEnv = (env: Record<string, string>) =>
        stackConfig("split", { gitlab: { edition: "ee", version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9", license: "LICENCE", env } });
    for (const [name, owner] of standaloneOwned) {
        it(`standalone: refuses ${name} in mattermost.env in the standalone host's words, not Omnibus's`, () => {
            assertConfigRejected(standaloneWithEnv({ [name]: "x" }), `mattermost.env.${name}`, new RegExp(`collides with ${name}, which the standalone Mattermost host's /etc/mattermost/mattermost\\.env sets ${owner.source}`));
            assert.throws(() => parseConfig(standaloneWithEnv({ [name]: "x" })), (error: Error) => !/Omnibus|gitlab\.rb|mattermost\['/.test(error.message));
        });
    }
    it("standalone: accepts what Omnibus owns but the standalone host leaves to Mattermost, and the sign-up defaults", () => {
        const settings = parseConfig(standaloneWithEnv({ MM_INSTALL_TYPE: "x", MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL: "true" }));
        assert.equal(settings.mattermost.env.MM_INSTALL_TYPE, "x");
    });

    it("accepts Mattermost's smallest valid batching: a buffer of 1 and an interval of 30 seconds", () => {
        const settings = parseConfig(stackConfig("split", { mail: smtp, mattermost: { emailBatching: { bufferSize: 1, intervalSeconds: 30 } } }));
        assert.deepEqual(settings.mattermost.emailBatching, { enabled: true, bufferSize: 1, intervalSeconds: 30 });
    });
    it("refuses a batching interval below 30 seconds, which Mattermost's config check refuses", () => {
        for (const intervalSeconds of [1, 29]) {
            assertConfigRejected(stackConfig("split", { mail: smtp, mattermost: { emailBatching: { intervalSeconds } } }), "mattermost.emailBatching.intervalSeconds", /from 30 to 86400/);
        }
        assertConfigRejected(stackConfig("split", { mail: smtp, mattermost: { emailBatching: { bufferSize: 0 } } }), "mattermost.emailBatching.bufferSize", /from 1 to/);
    });
});

describe("parseSettings: GitLab versions apt can install and that work", () => {
    const withVersion = (text: string) => stackConfig("single", { gitlab: { version: text } });
    for (const text of ["18.12.0", "18.11.99", "18.11.12", "18.10.99", "17.12.0"]) {
        it(`refuses ${text}, which the version data does not know as released, on a fresh install`, () => {
            assertConfigRejected(withVersion(text), "gitlab.version", /which GitLab has not released: .*version data checked up to \d{4}-\d{2}-\d{2}/);
        });
    }
    it("names the newest patch of a known line", () => {
        assertConfigRejected(withVersion("18.10.99"), "gitlab.version", /the newest 18\.10 patch is 18\.10\.8/);
        assertConfigRejected(withVersion("18.12.0"), "gitlab.version", /18\.12 is not a GitLab release line/);
    });
    it("refuses 18.11.7 and 18.11.8 with the reason", () => {
        assertConfigRejected(withVersion("18.11.7"), "gitlab.version", /known to break.*leftover mattermost\[\.\.\.\] setting.*Use 18\.11\.11/);
        assertConfigRejected(withVersion("18.11.8"), "gitlab.version", /known to break.*enables bundled Mattermost by accident/);
    });
    it("accepts every released patch from 17.1 on but the known-bad ones", () => {
        fc.assert(
            fc.property(fc.constantFrom(...BUNDLED_MATTERMOST.filter((entry) => compareLines(entry.line, { major: 17, minor: 1 }) >= 0)), fc.nat(40), (entry, patch) => {
                const text = `${formatLine(entry.line)}.${patch}`;
                const bad = KNOWN_BAD_PATCHES.some((known) => formatVersion(known.version) === text);
                const released = patch <= entry.lastPatch.patch;
                if (released && !bad) {
                    assert.equal(formatVersion(parseConfig(withVersion(text)).gitlab.version), text);
                } else {
                    assert.throws(() => parseConfig(withVersion(text)), (error: unknown) => error instanceof ConfigError && error.key === "gitlab.version");
                }
            }),
        );
    });
});

describe("parseSettings: backup.restoreFrom names a time that exists", () => {
    const withRestore = (restoreFrom: string) => stackConfig("split", { backup: { restoreFrom } });
    for (const value of ["20260231T030000Z", "20261131T030000Z", "20250229T030000Z", "20261301T030000Z", "20261100T030000Z", "20261120T240000Z", "20261120T036000Z", "20261120T030060Z"]) {
        it(`refuses ${value}`, () => assertConfigRejected(withRestore(value), "backup.restoreFrom", /UTC timestamp such as/));
    }
    for (const value of ["20240229T235959Z", "20261231T000000Z", "latest"]) {
        it(`accepts ${value}`, () => assert.equal(parseConfig(withRestore(value)).backup.restoreFrom, value));
    }
});
