// The bpmnlint rules the modeler runs in the browser while a process owner edits: bpmnlint's "recommended" set
// plus rules that mirror what the server refuses (elements we do not execute, user tasks without a lane of a role,
// a form or a deadline). This module is what `bpmnlint-pack-config` would generate: a { config, resolver } pair
// with every rule imported directly, so esbuild bundles them and nothing is resolved at run time.
// The server's validation stays the gate; these only show problems early.
import { is, isAny } from "bpmnlint-utils";

import adHocSubProcess from "bpmnlint/rules/ad-hoc-sub-process";
import conditionalFlows from "bpmnlint/rules/conditional-flows";
import endEventRequired from "bpmnlint/rules/end-event-required";
import eventBasedGateway from "bpmnlint/rules/event-based-gateway";
import eventSubProcessTypedStartEvent from "bpmnlint/rules/event-sub-process-typed-start-event";
import fakeJoin from "bpmnlint/rules/fake-join";
import global from "bpmnlint/rules/global";
import labelRequired from "bpmnlint/rules/label-required";
import linkEvent from "bpmnlint/rules/link-event";
import noBpmndi from "bpmnlint/rules/no-bpmndi";
import noComplexGateway from "bpmnlint/rules/no-complex-gateway";
import noDisconnected from "bpmnlint/rules/no-disconnected";
import noDuplicateSequenceFlows from "bpmnlint/rules/no-duplicate-sequence-flows";
import noGatewayJoinFork from "bpmnlint/rules/no-gateway-join-fork";
import noImplicitEnd from "bpmnlint/rules/no-implicit-end";
import noImplicitSplit from "bpmnlint/rules/no-implicit-split";
import noImplicitStart from "bpmnlint/rules/no-implicit-start";
import noInclusiveGateway from "bpmnlint/rules/no-inclusive-gateway";
import noOverlappingElements from "bpmnlint/rules/no-overlapping-elements";
import singleBlankStartEvent from "bpmnlint/rules/single-blank-start-event";
import singleEventDefinition from "bpmnlint/rules/single-event-definition";
import startEventRequired from "bpmnlint/rules/start-event-required";
import subProcessBlankStartEvent from "bpmnlint/rules/sub-process-blank-start-event";
import superfluousGateway from "bpmnlint/rules/superfluous-gateway";
import superfluousLabel from "bpmnlint/rules/superfluous-label";
import superfluousTermination from "bpmnlint/rules/superfluous-termination";

// ------------------------------------------------------------------------------------------ our own rules
// Mirrors engine/definitions.py UNSUPPORTED (moddle type names).
const NOT_EXECUTED = [
  "bpmn:ComplexGateway", "bpmn:EventBasedGateway", "bpmn:InclusiveGateway", "bpmn:CallActivity", "bpmn:SubProcess",
  "bpmn:Transaction", "bpmn:BusinessRuleTask", "bpmn:ServiceTask", "bpmn:SendTask", "bpmn:ReceiveTask",
  "bpmn:ManualTask", "bpmn:MessageEventDefinition", "bpmn:ConditionalEventDefinition",
  "bpmn:CompensateEventDefinition", "bpmn:LinkEventDefinition", "bpmn:MultiInstanceLoopCharacteristics",
  "bpmn:StandardLoopCharacteristics",
];

function message(config, key, fallback) {
  return (config && config.messages && config.messages[key]) || fallback;
}

function notExecuted(config) {
  function check(node, reporter) {
    // An untyped bpmn:Task is exactly that type (its subtypes are checked on their own).
    if (node.$type === "bpmn:Task" || isAny(node, NOT_EXECUTED)) {
      const owner = node.$type.endsWith("Definition") || node.$type.endsWith("LoopCharacteristics")
        ? node.$parent : node;
      if (owner && owner.id) {
        reporter.report(owner.id, `${message(config, "not_executed", "Not executed by Alur Medsos")}: ${node.$type}`);
      }
    }
    if (is(node, "bpmn:TimerEventDefinition") && node.timeCycle && node.$parent && node.$parent.id) {
      reporter.report(node.$parent.id, message(config, "time_cycle", "Repeating timers (timeCycle) are not executed"));
    }
  }
  return { check };
}

function laneOf(node) {
  let lanes = [];
  let parent = node.$parent;
  while (parent && !is(parent, "bpmn:Process")) parent = parent.$parent;
  if (parent && parent.laneSets) {
    const walk = (laneSet) => (laneSet.lanes || []).forEach((lane) => {
      if ((lane.flowNodeRef || []).includes(node)) lanes.push(lane);
      if (lane.childLaneSet) walk(lane.childLaneSet);
    });
    parent.laneSets.forEach(walk);
  }
  return lanes[lanes.length - 1];
}

function formFields(node) {
  const values = (node.extensionElements && node.extensionElements.values) || [];
  const formData = values.find((value) => value.$type === "camunda:FormData");
  return (formData && formData.fields) || [];
}

function hasTimerBoundary(node) {
  let process = node.$parent;
  while (process && !process.flowElements) process = process.$parent;
  return ((process && process.flowElements) || []).some((el) => is(el, "bpmn:BoundaryEvent")
    && el.attachedToRef === node
    && (el.eventDefinitions || []).some((def) => is(def, "bpmn:TimerEventDefinition")));
}

function userTask(config) {
  const lanes = (config && config.lanes) || [];
  function check(node, reporter) {
    if (!is(node, "bpmn:UserTask")) return;
    const lane = laneOf(node);
    if (lanes.length && (!lane || !lanes.includes((lane.name || "").trim()))) {
      reporter.report(node.id, `${message(config, "lane", "Not in a lane of a role")} (${lanes.join(", ")})`);
    }
    if (!formFields(node).length) reporter.report(node.id, message(config, "form", "No form fields"));
    if (!hasTimerBoundary(node)) reporter.report(node.id, message(config, "deadline", "No deadline (timer boundary event)"));
  }
  return { check };
}

// ----------------------------------------------------------------------------------------------- packing
const RULES = {
  "bpmnlint/ad-hoc-sub-process": adHocSubProcess,
  "bpmnlint/conditional-flows": conditionalFlows,
  "bpmnlint/end-event-required": endEventRequired,
  "bpmnlint/event-based-gateway": eventBasedGateway,
  "bpmnlint/event-sub-process-typed-start-event": eventSubProcessTypedStartEvent,
  "bpmnlint/fake-join": fakeJoin,
  "bpmnlint/global": global,
  "bpmnlint/label-required": labelRequired,
  "bpmnlint/link-event": linkEvent,
  "bpmnlint/no-bpmndi": noBpmndi,
  "bpmnlint/no-complex-gateway": noComplexGateway,
  "bpmnlint/no-disconnected": noDisconnected,
  "bpmnlint/no-duplicate-sequence-flows": noDuplicateSequenceFlows,
  "bpmnlint/no-gateway-join-fork": noGatewayJoinFork,
  "bpmnlint/no-implicit-end": noImplicitEnd,
  "bpmnlint/no-implicit-split": noImplicitSplit,
  "bpmnlint/no-implicit-start": noImplicitStart,
  "bpmnlint/no-inclusive-gateway": noInclusiveGateway,
  "bpmnlint/no-overlapping-elements": noOverlappingElements,
  "bpmnlint/single-blank-start-event": singleBlankStartEvent,
  "bpmnlint/single-event-definition": singleEventDefinition,
  "bpmnlint/start-event-required": startEventRequired,
  "bpmnlint/sub-process-blank-start-event": subProcessBlankStartEvent,
  "bpmnlint/superfluous-gateway": superfluousGateway,
  "bpmnlint/superfluous-label": superfluousLabel,
  "bpmnlint/superfluous-termination": superfluousTermination,
  "bpmnlint-plugin-alur/not-executed": notExecuted,
  "bpmnlint-plugin-alur/user-task": userTask,
};

// bpmnlint's "recommended" categories (node_modules/bpmnlint/config/recommended.js).
const RECOMMENDED = {
  "ad-hoc-sub-process": "error", "conditional-flows": "error", "end-event-required": "error",
  "event-based-gateway": "error", "event-sub-process-typed-start-event": "error", "fake-join": "warn",
  "global": "warn", "label-required": "error", "link-event": "error", "no-bpmndi": "error",
  "no-complex-gateway": "error", "no-disconnected": "error", "no-duplicate-sequence-flows": "error",
  "no-gateway-join-fork": "error", "no-implicit-split": "error", "no-implicit-end": "error",
  "no-implicit-start": "error", "no-inclusive-gateway": "warn", "no-overlapping-elements": "warn",
  "single-blank-start-event": "error", "single-event-definition": "error", "start-event-required": "error",
  "sub-process-blank-start-event": "error", "superfluous-gateway": "warn", "superfluous-label": "warn",
  "superfluous-termination": "warn",
};

const resolver = {
  resolveRule(pkg, ruleName) {
    const rule = RULES[`${pkg}/${ruleName}`];
    if (!rule) throw new Error(`cannot resolve rule <${pkg}/${ruleName}>`);
    return rule;
  },
  resolveConfig(pkg, configName) {
    throw new Error(`cannot resolve config <${configName}> in <${pkg}>`);
  },
};

/**
 * The linter configuration for bpmn-js-bpmnlint. ``options.lanes``: the lane names that a role works in;
 * ``options.messages``: texts of our own rules in the user's language.
 */
export function lintConfig(options = {}) {
  const ours = { lanes: options.lanes || [], messages: options.messages || {} };
  return {
    resolver,
    config: {
      rules: {
        ...RECOMMENDED,
        // Our own rules say more precisely what the server refuses.
        "no-complex-gateway": "off",
        "no-inclusive-gateway": "off",
        "event-based-gateway": "off",
        "link-event": "off",
        "alur/not-executed": ["error", ours],
        "alur/user-task": ["error", ours],
      },
    },
  };
}
