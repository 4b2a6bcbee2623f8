// Amazon SES for the stack's mail, on Pulumi's mock runtime: the identity, its records in the zone,
// the send-only IAM user, and where its SMTP credentials go.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { generatedPlaceholder, runOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { stackConfig } from "../../support/stackConfig";

const one = (run: OfflineRun, type: string, name?: string): RegisteredResource => {
    const found = run.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    assert.equal(found.length, 1, `one ${type} ${name ?? ""}, found ${found.length}`);
    return found[0];
};

for (const topology of ["single", "split"] as const) {
    describe(`mail.provider ses, ${topology} topology`, () => {
        let run: OfflineRun;
        before(async () => {
            run = await runOffline({ "aws:region": "eu-central-1", ...stackConfig(topology, { mail: { provider: "ses", from: "gitlab@example.com" } }) });
        });

        it("verifies dnsZone as an SES domain identity, with its TXT record", () => {
            assert.equal(one(run, "aws:ses/domainIdentity:DomainIdentity").inputs.domain, "example.com");
            const txt = one(run, "aws:route53/record:Record", "ses-verification");
            assert.deepEqual(
                { name: txt.inputs.name, type: txt.inputs.type, records: txt.inputs.records, zoneId: txt.inputs.zoneId },
                { name: "_amazonses.example.com", type: "TXT", records: [generatedPlaceholder("ses", "verificationToken")], zoneId: "Z0STANDIN0ZONE" },
            );
        });

        it("publishes the three DKIM CNAMEs", () => {
            assert.equal(one(run, "aws:ses/domainDkim:DomainDkim").inputs.domain, "example.com");
            const cnames = run.resources
                .filter((r) => r.type === "aws:route53/record:Record" && r.name.startsWith("ses-dkim-"))
                .map((r) => [r.inputs.type, r.inputs.name, r.inputs.records]);
            assert.deepEqual(cnames, [1, 2, 3].map((i) => ["CNAME", `dkim-token-${i}._domainkey.example.com`, [`dkim-token-${i}.dkim.amazonses.com`]]));
        });

        it("lets its IAM user do nothing but ses:SendRawEmail on that identity", () => {
            const policy = JSON.parse(String(one(run, "aws:iam/userPolicy:UserPolicy").inputs.policy));
            assert.deepEqual(policy.Statement, [{ effect: "Allow", actions: ["ses:SendRawEmail"], resources: ["arn:aws:ses:eu-central-1:000000000000:identity/example.com"] }]);
            assert.ok(one(run, "aws:iam/accessKey:AccessKey").dependsOn.includes("ses-smtp"));
        });

        it("sends through the region's SES endpoint on 587 with STARTTLS, the password only on stdin", () => {
            const password = generatedPlaceholder("ses-smtp", "sesSmtpPasswordV4");
            const files = run.resources.filter((r) => r.type === "command:remote:Command" && r.name.endsWith("-gitlab-rb"));
            assert.equal(files.length, topology === "single" ? 1 : 2);
            for (const file of files) {
                const text = String(file.inputs.stdin);
                assert.ok(text.includes(password), `${file.name} carries the SMTP password`);
                assert.ok(file.secretInputs.includes("stdin"));
                assert.match(text, /email-smtp\.eu-central-1\.amazonaws\.com/);
            }
            for (const command of run.resources.filter((r) => r.type === "command:remote:Command")) {
                assert.ok(!String(command.inputs.create).includes(password), `${command.name}: no password in the command`);
            }
            const gitlabRb = String(run.resources.find((r) => r.name === "gitlab-gitlab-rb")?.inputs.stdin);
            assert.match(gitlabRb, /^gitlab_rails\['smtp_port'\] = 587$/m);
            assert.match(gitlabRb, /^gitlab_rails\['smtp_enable_starttls_auto'\] = true$/m);
        });
    });
}

describe("mail.provider smtp", () => {
    it("creates no AWS mail resources", async () => {
        const run = await runOffline(stackConfig("single", { mail: { host: "smtp.example.com", from: "gitlab@example.com" } }));
        assert.ok(!run.resources.some((r) => r.type.startsWith("aws:ses") || r.type === "aws:iam/user:User" || r.type === "aws:iam/accessKey:AccessKey"));
        assert.match(String(run.resources.find((r) => r.name === "gitlab-gitlab-rb")?.inputs.stdin), /"MM_EMAILSETTINGS_SMTPSERVER" => "smtp\.example\.com"/);
    });
});
