/**
 * The fault injector of an engine, made the first time it is asked for: one per engine, so a rule or fault set by one
 * caller (a test, the chaos run) is seen and cleared by any other. `registry` is a WeakMap so a dropped engine takes
 * its injector with it.
 */
export function onePerEngine<E extends object, F>(
  registry: WeakMap<E, F>,
  engine: E,
  create: (engine: E) => F,
): F {
  let faults = registry.get(engine);
  if (!faults) {
    faults = create(engine);
    registry.set(engine, faults);
  }
  return faults;
}
