"""Instance actions and their events: the history `openstack server event list` shows."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.clock import iso
from overcast.context import RequestContext
from services.conductor.models import InstanceAction, InstanceActionEvent, utcnow


def start_action(session: Session, ctx: RequestContext, *, instance_id: str, action: str
                 ) -> InstanceAction:
    record = InstanceAction(instance_id=instance_id, action=action,
                            request_id=ctx.request_id, user_id=ctx.user_id,
                            project_id=ctx.project_id)
    session.add(record)
    session.flush()
    return record


def _latest_action(session: Session, instance_id: str, action: str) -> InstanceAction | None:
    return session.scalar(select(InstanceAction).where(
        InstanceAction.instance_id == instance_id, InstanceAction.action == action
    ).order_by(InstanceAction.id.desc()).limit(1))


def start_event(session: Session, *, instance_id: str, action: str, event: str,
                host: str | None) -> None:
    """Open ``event`` under the newest ``action`` of the instance (if there is one)."""
    record = _latest_action(session, instance_id, action)
    if record is None:
        return
    open_event = session.scalar(select(InstanceActionEvent).where(
        InstanceActionEvent.action_id == record.id, InstanceActionEvent.event == event,
        InstanceActionEvent.finish_time.is_(None)))
    if open_event is None:
        session.add(InstanceActionEvent(action_id=record.id, event=event, host=host))
    record.updated_at = utcnow()


def open_event_action(session: Session, *, instance_id: str, event: str) -> str | None:
    """The action under which the newest unfinished ``event`` of the instance was opened."""
    return session.scalar(
        select(InstanceAction.action)
        .join(InstanceActionEvent, InstanceAction.id == InstanceActionEvent.action_id)
        .where(InstanceAction.instance_id == instance_id, InstanceActionEvent.event == event,
               InstanceActionEvent.finish_time.is_(None))
        .order_by(InstanceActionEvent.id.desc()).limit(1))


def finish_event(session: Session, *, instance_id: str, action: str, event: str,
                 host: str | None, error: str | None = None,
                 details: str | None = None, request_id: str | None = None) -> None:
    """Close ``event`` as Success or Error (opening it first if it was never opened);
    ``details`` is what the event's user should know: shown in the event from mv 2.84, and
    as the action's ``message`` (every microversion) when the action did not fail. With
    ``request_id``, the event of that request's action (else of the newest ``action``)."""
    query = (select(InstanceActionEvent, InstanceAction)
             .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
             .where(InstanceAction.instance_id == instance_id,
                    InstanceAction.action == action, InstanceActionEvent.event == event))
    if request_id is not None:
        query = query.where(InstanceAction.request_id == request_id)
    found = session.execute(query.order_by(InstanceAction.id.desc(),
                                           InstanceActionEvent.id.desc()).limit(1)).first()
    if found is not None:
        item, record = found
    else:
        record = _latest_action(session, instance_id, action)
        if record is None:
            return
        item = InstanceActionEvent(action_id=record.id, event=event, host=host)
        session.add(item)
    if item.finish_time is None:
        item.finish_time = utcnow()
        item.result = "Error" if error else "Success"
        item.traceback = error
        item.host = host or item.host
        item.details = details
        if error:
            record.message = "Error"
        elif details and record.message is None:
            record.message = details
    record.updated_at = utcnow()


def action_dict(record: InstanceAction, events: list[InstanceActionEvent] | None = None) -> dict:
    result = {"action": record.action, "instance_uuid": record.instance_id,
              "request_id": record.request_id, "user_id": record.user_id,
              "project_id": record.project_id, "start_time": iso(record.start_time),
              "updated_at": iso(record.updated_at), "message": record.message}
    if events is not None:
        result["events"] = [{"event": e.event, "start_time": iso(e.start_time),
                             "finish_time": iso(e.finish_time), "result": e.result,
                             "traceback": e.traceback, "host": e.host,
                             "details": e.details} for e in events]
    return result


def list_actions(session: Session, instance_id: str) -> list[dict]:
    return [action_dict(a) for a in session.scalars(select(InstanceAction).where(
        InstanceAction.instance_id == instance_id).order_by(InstanceAction.id.desc()))]


def get_action(session: Session, instance_id: str, request_id: str) -> dict:
    record = session.scalar(select(InstanceAction).where(
        InstanceAction.instance_id == instance_id, InstanceAction.request_id == request_id))
    if record is None:
        raise errors.NotFound(f"Action for request_id {request_id} on instance "
                              f"{instance_id} not found")
    events = list(session.scalars(select(InstanceActionEvent).where(
        InstanceActionEvent.action_id == record.id).order_by(InstanceActionEvent.id)))
    return action_dict(record, events)
