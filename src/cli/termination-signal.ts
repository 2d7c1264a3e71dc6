/** Stops a run on SIGINT / SIGTERM: a wait is cancelled at the server, `all` rolls back. */
export function signalOnTermination(): AbortSignal {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => controller.abort(signal));
  return controller.signal;
}
