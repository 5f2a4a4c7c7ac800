// The panel's keyboard shortcuts: each module that handles keys registers its table here, next
// to the code that reads it, and the help overlay (?) shows what is registered: no second list
// to keep in step.

const tables = new Map(); // group -> [{ label, what }]

/** Register (or replace) the shortcuts of ``group``: entries of { label, what }. */
export function registerKeys(group, entries) {
  tables.set(group, entries.map(({ label, what }) => ({ label, what })));
}

/** Every registered table, in registration order: [{ group, entries }]. */
export function keyTables() {
  return [...tables.entries()].map(([group, entries]) => ({ group, entries }));
}

/** Whether a key event comes from a field where typing must not trigger shortcuts. */
export function typing(event) {
  const target = event.target;
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement
    || target instanceof HTMLSelectElement;
}

/** The first entry of ``table`` whose ``match(event)`` accepts the key event, or null. */
export function findKey(table, event) {
  return table.find((entry) => entry.match(event)) || null;
}
