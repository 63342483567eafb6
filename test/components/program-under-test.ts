// The example program with a recorder in front: deploy.ts runs this as its `program`.
import "./program-capture";
export * from "../../index";
