/**
 * Plugs the name server's client into the core (src/url-resolvers.ts):
 * `connect("PYRONAME:...")`, `connect("PYROMETA:...")` and
 * `server.publish()`. Imported for its effect by the entry modules
 * (src/core-api.ts, so every entry that exports `connect`); listed in
 * package.json "sideEffects" so bundlers keep it. The code itself is loaded
 * on first use, by literal import() so bundlers split it into chunks of
 * their own: a page that never looks a name up never downloads it.
 */
import { registerPublisher, registerUrlResolverLoader, type UrlResolver } from "../url-resolvers.js";

const byName = async (): Promise<UrlResolver> => (await import("./resolve.js")).connectByName;
registerUrlResolverLoader("pyroname", byName);
registerUrlResolverLoader("pyrometa", byName);
registerPublisher(async () => (await import("./publish.js")).withPublish);
