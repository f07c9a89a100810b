// @bpmn-io/properties-panel as the modeler bundles it: the same exports, except that a list entry (ListEntry) given no
// `translate` gets the modeler's own. bpmn-js-properties-panel 5 passes none to the lists inside a form field
// (Constraints, Properties, Values), whose buttons ("Create new list item", "Delete item") stayed in English.
// frontend/build.mjs resolves the bare "@bpmn-io/properties-panel" to this file (its subpaths, e.g. /preact, as they
// are); frontend/modeler-i18n.js calls setListTranslate with the modeler's translate service.
import { h } from "@bpmn-io/properties-panel/preact";
import { ListEntry as PanelListEntry } from "@bpmn-io/properties-panel/dist/index.esm.js";

export * from "@bpmn-io/properties-panel/dist/index.esm.js";

let listTranslate = null;

export function setListTranslate(translate) {
  listTranslate = translate;
}

export function ListEntry(props) {
  return h(PanelListEntry, props.translate || !listTranslate ? props : { ...props, translate: listTranslate });
}
