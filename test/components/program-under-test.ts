// The example program with a recorder in front: run-program.ts runs this as its `program`.
import "./program-capture";
import mailServerProgram = require("../../index");
export = mailServerProgram;
