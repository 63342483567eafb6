// Removes what scripts/local-up.ts deployed for a stack, volumes included (mail is deleted).
//   npx tsx scripts/local-down.ts [stack]
import { destroy } from "../test/live/stack";
const stack = process.argv[2] ?? "dev";
destroy(`mail-${stack}`);
console.log(`stack ${stack}: containers and volumes removed`);
