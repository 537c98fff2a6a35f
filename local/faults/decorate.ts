/**
 * Installs a wrapper around one method of a running engine: an own property shadows the class method for every
 * caller that holds the engine (other engines, the gateway's services, the engine's own `this.method` calls), and
 * deleting it restores the engine exactly. The engine itself carries no fault code.
 */
export interface Decoration {
  remove(): void;
}

export function decorate<T extends object, K extends keyof T>(
  target: T,
  method: K,
  wrap: (original: T[K]) => T[K],
): Decoration {
  const original = target[method];
  if (typeof original !== 'function') throw new TypeError(`${String(method)} is not a method`);
  if (Object.hasOwn(target, method)) throw new Error(`${String(method)} is already decorated`);
  Object.defineProperty(target, method, {
    value: wrap(original.bind(target) as T[K]),
    configurable: true,
    writable: true,
  });
  let removed = false;
  return {
    remove() {
      if (removed) return;
      removed = true;
      Reflect.deleteProperty(target, method);
    },
  };
}
