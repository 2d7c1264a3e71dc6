/** What a command prints: one JSON object with --json, else text lines; and how it exits. */
export interface CommandOutput {
  readonly json: Record<string, unknown>;
  readonly text: string;
  /** Set when the command's answer is not a success (validate finding drift): 0 otherwise. */
  readonly exitCode?: number;
}
