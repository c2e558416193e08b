/**
 * Stand-ins for Slack and Teams webhooks: what each documents its webhook accepts, as checks that
 * list what is wrong with a body, and answers a test server can give. No test framework imported.
 */
import type { RecordedTestRequest, TestResponse } from './test-server.js';

// ---------------------------------------------------------------------------------------------
// Stand-ins for Slack and Teams: what each documents its webhook accepts.

const slackBlockTypes = new Set(['header', 'section', 'context', 'divider', 'actions', 'image', 'rich_text']);
function textObject(value: unknown, where: string, max: number, types: string[], problems: string[]): void {
  const text = value as { type?: unknown; text?: unknown } | undefined;
  if (!text || typeof text !== 'object') {
    problems.push(`${where}: a text object is required`);
    return;
  }
  if (typeof text.type !== 'string' || !types.includes(text.type)) {
    problems.push(`${where}.type must be one of ${types.join(', ')}`);
  }
  if (typeof text.text !== 'string' || text.text.length === 0)
    problems.push(`${where}.text must be a non-empty string`);
  else if (text.text.length > max) problems.push(`${where}.text is longer than ${max} characters`);
}

/**
 * What is wrong with a Slack incoming-webhook body (empty when nothing): `text` as the notification
 * fallback, and Block Kit `blocks` within Slack's limits (at most 50 blocks; header plain_text of
 * at most 150 characters; section text of at most 3000, at most 10 fields of at most 2000; context
 * with 1 to 10 elements).
 */
export function checkSlackMessage(body: unknown): string[] {
  const problems: string[] = [];
  const message = body as { text?: unknown; blocks?: unknown } | undefined;
  if (!message || typeof message !== 'object') return ['the body must be a JSON object'];
  if (typeof message.text !== 'string' || message.text.length === 0) {
    problems.push('text (the notification fallback) must be a non-empty string');
  }
  if (!Array.isArray(message.blocks)) return [...problems, 'blocks must be an array'];
  if (message.blocks.length === 0 || message.blocks.length > 50)
    problems.push('blocks must hold 1 to 50 blocks');
  message.blocks.forEach((raw, i) => {
    const block = raw as Record<string, unknown>;
    const where = `blocks[${i}]`;
    if (!slackBlockTypes.has(block.type as string)) {
      problems.push(`${where}.type ${String(block.type)} is not a Block Kit block`);
      return;
    }
    if (typeof block.block_id === 'string' && block.block_id.length > 255)
      problems.push(`${where}.block_id is too long`);
    if (block.type === 'header') textObject(block.text, `${where}.text`, 150, ['plain_text'], problems);
    if (block.type === 'section') {
      if (block.text === undefined && block.fields === undefined)
        problems.push(`${where} needs text or fields`);
      if (block.text !== undefined)
        textObject(block.text, `${where}.text`, 3000, ['plain_text', 'mrkdwn'], problems);
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields) || block.fields.length === 0 || block.fields.length > 10) {
          problems.push(`${where}.fields must hold 1 to 10 text objects`);
        } else {
          for (const [j, field] of block.fields.entries()) {
            textObject(field, `${where}.fields[${j}]`, 2000, ['plain_text', 'mrkdwn'], problems);
          }
        }
      }
    }
    if (block.type === 'context') {
      if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10) {
        problems.push(`${where}.elements must hold 1 to 10 elements`);
      } else {
        for (const [j, element] of block.elements.entries()) {
          textObject(element, `${where}.elements[${j}]`, 3000, ['plain_text', 'mrkdwn'], problems);
        }
      }
    }
  });
  return problems;
}

const adaptiveElementTypes = new Set([
  'TextBlock',
  'FactSet',
  'ColumnSet',
  'Container',
  'Image',
  'ImageSet',
  'ActionSet',
  'RichTextBlock',
]);
const adaptiveActionTypes = new Set([
  'Action.OpenUrl',
  'Action.Submit',
  'Action.ShowCard',
  'Action.ToggleVisibility',
]);

/**
 * What is wrong with a Teams Workflows webhook body (empty when nothing): `{ type: 'message',
 * attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: <card> }] }`
 * where the card is `type: 'AdaptiveCard'`, a version Teams renders (1.0 to 1.5), a non-empty body
 * of known elements, and at most 28 KB in all.
 */
export function checkTeamsMessage(body: unknown): string[] {
  const problems: string[] = [];
  const message = body as { type?: unknown; attachments?: unknown } | undefined;
  if (!message || typeof message !== 'object') return ['the body must be a JSON object'];
  if (message.type !== 'message') problems.push('type must be "message"');
  if (JSON.stringify(body).length > 28 * 1024) problems.push('the message is larger than 28 KB');
  if (!Array.isArray(message.attachments) || message.attachments.length === 0) {
    return [...problems, 'attachments must hold the Adaptive Card'];
  }
  const attachment = message.attachments[0] as { contentType?: unknown; content?: Record<string, unknown> };
  if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive') {
    problems.push('attachments[0].contentType must be application/vnd.microsoft.card.adaptive');
  }
  const card = attachment.content;
  if (!card || typeof card !== 'object') return [...problems, 'attachments[0].content must be the card'];
  if (card.type !== 'AdaptiveCard') problems.push('content.type must be "AdaptiveCard"');
  if (typeof card.version !== 'string' || !/^1\.[0-5]$/.test(card.version)) {
    problems.push('content.version must be "1.0" to "1.5"');
  }
  if (card.$schema !== undefined && card.$schema !== 'http://adaptivecards.io/schemas/adaptive-card.json') {
    problems.push('content.$schema is not the Adaptive Card schema');
  }
  if (!Array.isArray(card.body) || card.body.length === 0)
    return [...problems, 'content.body must be non-empty'];
  card.body.forEach((raw, i) => {
    const element = raw as Record<string, unknown>;
    const where = `content.body[${i}]`;
    if (!adaptiveElementTypes.has(element.type as string))
      problems.push(`${where}.type ${String(element.type)} is unknown`);
    if (element.type === 'TextBlock' && (typeof element.text !== 'string' || element.text.length === 0)) {
      problems.push(`${where}.text must be a non-empty string`);
    }
    if (element.type === 'FactSet') {
      const facts = element.facts;
      if (!Array.isArray(facts) || facts.length === 0) problems.push(`${where}.facts must be non-empty`);
      else {
        facts.forEach((fact: { title?: unknown; value?: unknown }, j) => {
          if (typeof fact.title !== 'string' || typeof fact.value !== 'string') {
            problems.push(`${where}.facts[${j}] needs string title and value`);
          }
        });
      }
    }
  });
  if (card.actions !== undefined) {
    if (!Array.isArray(card.actions)) problems.push('content.actions must be an array');
    else {
      card.actions.forEach((raw: Record<string, unknown>, i) => {
        if (!adaptiveActionTypes.has(raw.type as string))
          problems.push(`content.actions[${i}].type is unknown`);
        if (raw.type === 'Action.OpenUrl' && typeof raw.url !== 'string')
          problems.push(`content.actions[${i}].url is required`);
      });
    }
  }
  return problems;
}

/** A Slack incoming webhook stand-in: `ok` for a valid message, 400 `invalid_blocks` otherwise. */
export function slackStandIn(request: RecordedTestRequest): TestResponse {
  if (request.method !== 'POST' || !String(request.headers['content-type']).startsWith('application/json')) {
    return { status: 400, body: 'invalid_payload' };
  }
  return checkSlackMessage(request.json).length === 0
    ? { status: 200, body: 'ok' }
    : { status: 400, body: 'invalid_blocks' };
}

/** A Teams Workflows webhook stand-in: 202 Accepted for a valid Adaptive Card message, 400 otherwise. */
export function teamsStandIn(request: RecordedTestRequest): TestResponse {
  if (request.method !== 'POST') return { status: 405 };
  const problems = checkTeamsMessage(request.json);
  return problems.length === 0
    ? { status: 202 }
    : { status: 400, body: { error: { code: 'InvalidRequestContent', message: problems.join('; ') } } };
}
