import { CommandError, LogEndMessage, LogMessage, ResultStatus } from '@niro/protocol';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';

const Id = Type.String({ minLength: 1, maxLength: 64 });

const HelloFrame = Type.Object({
  type: Type.Literal('hello'),
  version: Type.String({ minLength: 1, maxLength: 64 }),
  protocol: Type.Integer(),
});
const AckFrame = Type.Object({ type: Type.Literal('ack'), id: Id });
const ResultFrame = Type.Object({
  type: Type.Literal('result'),
  id: Id,
  status: ResultStatus,
  result: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  error: Type.Optional(CommandError),
});

/** What an agent may send over the WebSocket (DESIGN 3.3); `log` and `log-end` go to the log relay. */
export const AgentFrame = Type.Union([HelloFrame, AckFrame, ResultFrame, LogMessage, LogEndMessage]);
export type AgentFrame = Static<typeof AgentFrame>;

const agentFrame = Compile(AgentFrame);

/** Server → agent, besides `command` and `log-ack`: the fate of a result, and refusals of a frame. */
export type ResultAckFrame = { type: 'result-ack'; id: string; state: string; recorded: boolean };
export type ErrorFrame = { type: 'error'; code: string; message: string; id?: string };

export const PROTOCOL_VERSION = 1;

/** Close codes: 1009 (too big) comes from the WebSocket library itself. */
export const CLOSE = {
  unsupportedProtocol: 4000,
  helloRequired: 4001,
  keyRevoked: 4003,
  goingAway: 1001,
  internalError: 1011,
} as const;

export type ParsedFrame = { ok: true; frame: AgentFrame } | { ok: false; code: string; message: string };

export function parseAgentFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'The frame is not a JSON document' };
  }
  if (agentFrame.Check(value)) return { ok: true, frame: value };
  const first = agentFrame.Errors(value)[0];
  const where = first === undefined || first.instancePath === '' ? '' : ` at ${first.instancePath}`;
  return {
    ok: false,
    code: 'invalid_frame',
    message: `The frame is not a hello, ack, result, log or log-end message of protocol ${PROTOCOL_VERSION}${where}`,
  };
}
