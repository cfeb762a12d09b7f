import { conformance } from "./conformance.js";

conformance({ name: "mem", listenUrl: "mem://0" });
