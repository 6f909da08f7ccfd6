// Exit codes shared by every command: 0 ok, 1 an expectation failed, 2 bad input or usage.
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Thrown by commands for bad input; main prints the message and exits with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT_BAD_INPUT,
  ) {
    super(message);
  }
}
