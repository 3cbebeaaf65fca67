// @eecot/cli: The `eecot` command.
export {};
