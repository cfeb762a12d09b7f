/**
 * Handlers many tests serve as they are or add to: the smallest service
 * with an answer to check (`add`) and a value round trip (`echo`).
 */
import { RPCHandler } from "../../src/index.js";

/** `add(x, y)` and `echo(v)`, registered by function name as users write them. */
export function addEchoHandler(): RPCHandler {
  const h = new RPCHandler();
  h.register(function add(x: number, y: number) {
    return x + y;
  });
  h.register(function echo(v: unknown) {
    return v;
  });
  return h;
}
