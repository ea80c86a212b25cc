import { LOG_LIMITS } from '@niro/protocol';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';

/**
 * What the replicas say to each other about a log stream, over the message bus. Two topics per
 * stream: the reader's (lines and the end, from the replica the agent talks to) and the agent's
 * (acknowledgements, from the replica that holds the reader). Checked on arrival like any data
 * from another process.
 */

/** Lines and the end, for the replica that holds the reader. */
export function readerTopic(streamId: string): string {
  return `log-reader:${streamId}`;
}

/** Acknowledgements for one cluster's agent; the cluster in the topic keeps another cluster's agent out. */
export function agentTopic(clusterId: string, streamId: string): string {
  return `log-agent:${clusterId}:${streamId}`;
}

const Lines = Type.Array(Type.String({ maxLength: LOG_LIMITS.lineBytes + 64 }), { maxItems: LOG_LIMITS.chunkLines });

const RelayedLog = Type.Object({ t: Type.Literal('log'), clusterId: Type.String(), seq: Type.Integer(), lines: Lines });
const RelayedEnd = Type.Object({
  t: Type.Literal('end'),
  clusterId: Type.String(),
  reason: Type.Union([Type.Literal('eof'), Type.Literal('stopped'), Type.Literal('error')]),
  message: Type.Optional(Type.String()),
});
export const ReaderMessage = Type.Union([RelayedLog, RelayedEnd]);
export type ReaderMessage = Static<typeof ReaderMessage>;

/**
 * `ack`: the reader took `seq` and everything before it (with `stop`: the reader is gone).
 * `held`: `seq` arrived and waits for the reader's socket, so the agent side keeps waiting
 * instead of concluding that nobody reads the stream.
 */
const RelayedAck = Type.Object({ t: Type.Literal('ack'), seq: Type.Integer(), stop: Type.Optional(Type.Boolean()) });
const RelayedHeld = Type.Object({ t: Type.Literal('held'), seq: Type.Integer() });
export const AgentMessage = Type.Union([RelayedAck, RelayedHeld]);
export type AgentMessage = Static<typeof AgentMessage>;

const readerMessage = Compile(ReaderMessage);
const agentMessage = Compile(AgentMessage);

export function parseReaderMessage(text: string): ReaderMessage | null {
  const value = parseJson(text);
  return readerMessage.Check(value) ? value : null;
}

export function parseAgentMessage(text: string): AgentMessage | null {
  const value = parseJson(text);
  return agentMessage.Check(value) ? value : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
