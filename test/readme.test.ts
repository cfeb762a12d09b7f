/**
 * Every ```js block in README.md is a complete program: run each one and
 * require a clean exit, so the examples cannot rot.
 */
import { docExamples } from "./support/doc-examples.js";

docExamples("README examples", "README.md", "readme-examples", 2);
