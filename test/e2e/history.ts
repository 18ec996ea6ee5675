/** Reads a run's history the way the UI shows it: the resumeEpoch activities and their inputs. */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ResumeEpochInput } from '../../src/contract';

export interface ResumeEvent {
  eventId: string;
  ckptPath: string;
  input: ResumeEpochInput;
}

/** Every scheduled `resumeEpoch`, with its event id (for the UI's event page) and explicit ckptPath. */
export async function resumeEpochEvents(client: Client, workflowId: string): Promise<ResumeEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    const payload = a?.input?.payloads?.[0];
    if (a?.activityType?.name !== 'resumeEpoch' || !payload) return [];
    const input = defaultPayloadConverter.fromPayload<ResumeEpochInput>(payload);
    return [{ eventId: String(e.eventId), ckptPath: input.ckptPath, input }];
  });
}
