/** The stream window's default, apart from ./ref-session.ts so that the main entry naming it does not bundle the tables' constants. */

/** Items a consumer lets a producer run ahead by default. */
export const DEFAULT_STREAM_WINDOW = 64;
