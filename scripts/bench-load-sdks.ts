// The entry `npm run bench:load` gives Pulumi's runner for its floor: the five SDKs the program uses,
// and nothing of the program itself.

import "@pulumi/pulumi";
import "@pulumi/aws";
import "@pulumi/command";
import "@pulumi/random";
import "@pulumi/tls";
