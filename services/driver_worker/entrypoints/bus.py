"""Bus entrance of a driver worker: jobs of one driver in (one consumer group per driver), reports out.

The job's offset is committed only after its final report is published, so a worker that dies mid-job
leaves the job to be redelivered to another worker.
"""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from contracts import topics
from contracts.envelope import Envelope, Message
from contracts.jobs import DriverJob
from contracts.events import JobState, JobStateChanged
from contracts.registry import UndecodableMessage, decode, encode
from contracts.reports import JobReport
from services.driver_worker.application import JobRunner
from shared.bus import Bus, Outgoing
from shared.consuming import MessageGate
from shared.metrics import observe_job


class BusReporter:
    """Reports about one job, keyed by connection id, correlated with the job's envelope."""

    def __init__(self, bus: Bus, job_envelope: Envelope, actor: str) -> None:
        self.bus = bus
        self.fields = {
            "tenant_id": job_envelope.tenant_id,
            "correlation_id": job_envelope.correlation_id,
            "causation_id": str(job_envelope.message_id),
            "actor": actor,
        }

    async def report(self, report: JobReport) -> None:
        await self.bus.publish(Outgoing(topics.REPORTS, str(report.connection_id), encode(self.fields, report)))


def register(bus: Bus, driver_id: str, runner: JobRunner) -> None:
    topic = topics.driver_jobs(driver_id)
    gate = MessageGate(bus, topic, (DriverJob,))

    async def run_job(envelope: Envelope, job: Message) -> None:
        assert isinstance(job, DriverJob)
        with observe_job(driver_id, job.kind) as watch:
            await runner.run(job, watch.reporter(BusReporter(bus, envelope, f"driver:{driver_id}")))

    @bus.subscriber(topic, f"driver-{driver_id}", auto_offset_reset="earliest",
                    ack_policy=AckPolicy.NACK_ON_ERROR, max_poll_interval_ms=15 * 60 * 1000)
    async def on_job(message: KafkaMessage) -> None:
        await gate.handle(message, run_job)

    # Every worker instance sees every cancellation (no group: all partitions), from now on: a job cancelled while
    # queued is skipped, one cancelled while running stops at its next progress report.
    @bus.subscriber(topics.EVENTS, None, auto_offset_reset="latest", ack_policy=AckPolicy.MANUAL)
    async def on_event(message: KafkaMessage) -> None:
        if b'"JobStateChanged"' not in message.body or b'"cancelled"' not in message.body:
            return  # cheap filter: only cancellations matter here
        try:
            _, event = decode(message.body, (JobStateChanged,))
        except UndecodableMessage:
            return  # not ours to judge: the events topic has its own consumers and dead letters
        if isinstance(event, JobStateChanged) and event.state == JobState.CANCELLED:
            runner.cancellations.cancel(event.job_id)
