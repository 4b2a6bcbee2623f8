// The gitlab-mattermost policy pack: `pulumi preview --policy-pack policy` (or `pulumi up`) runs it.
// Constructing the pack starts the gRPC server the Pulumi CLI talks to, so this file does nothing
// else; the policies live in policies.ts, where the tests import them.
//
// The pack's dependencies resolve from the program's own node_modules one directory up (the root
// package.json has @pulumi/policy and @pulumi/aws), so `npm ci` at the root is all it needs.

import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("gitlab-mattermost", { policies });
