"""Pages for debates and the moderation queue, and the comment thread's form posts.

Every form posts with the session's CSRF token and answers with a 303 redirect back to
the page it came from (``next``), or with a small page saying what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf, principal_for
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.service import Job, Page
from citysmart.portal.pages import render
from citysmart.services.participation import moderation, talk_store
from citysmart.services.participation.guard import require_poster
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_talk import Debate
from citysmart.services.participation.talk_api import require_voter
from citysmart.services.participation.talk_views import comment_link, local_time, thread_view

router = APIRouter(include_in_schema=False)
DEBATES_PAGE = Page(path="/participation/debates", title="Debates", title_ko="토론")
MODERATION_PAGE = Page(
    path="/participation/moderation", title="Moderation", title_ko="신고 관리", role=roles.MODERATOR
)
PAGES: tuple[Page, ...] = (DEBATES_PAGE, MODERATION_PAGE)
JOBS: tuple[Job, ...] = ()
Text = Annotated[str, Form()]
# Optional so that a missing token is a CSRF failure (403), not a validation error.
Csrf = Annotated[str | None, Form()]


def safe_next(path: str | None, default: str = DEBATES_PAGE.path) -> str:
    """Return a local path to go back to (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def _signed_in(request: Request, session: SessionDep) -> Principal | None:
    """Return the session's user for a form post (its CSRF token is checked first)."""
    user_id = request.session.get("user_id")
    user = session.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def _sign_in(path: str) -> Response:
    return RedirectResponse(f"/signin?next={quote(path, safe='/?=&')}", status_code=303)


def _problem_page(
    request: Request, principal: Principal | None, problem: Problem, back: str
) -> Response:
    return render(
        request,
        "participation/talk_error.html",
        principal,
        problem.status,
        title=problem.title,
        detail=problem.detail,
        back=back,
    )


def _post(
    request: Request,
    session: SessionDep,
    csrf: str | None,
    back: str,
    act: Callable[[Principal], object],
    *,
    moderator: bool = False,
    vote: bool = False,
) -> Response:
    """Run a form's action for a signed-in poster, then go back (or show what was wrong)."""
    check_csrf(request, csrf)
    principal = _signed_in(request, session)
    if principal is None:
        return _sign_in(back)
    try:
        if moderator:
            if not roles.grants(principal.role, roles.MODERATOR):
                return render(request, "forbidden.html", principal, 403, needed=roles.MODERATOR)
        elif vote:
            require_voter(principal)
        else:
            require_poster(request, principal)
        with session.begin_nested():
            target = act(principal)
    except Problem as problem:
        return _problem_page(request, principal, problem, back)
    return RedirectResponse(target if isinstance(target, str) else back, status_code=303)


@router.post("/participation/comments")
def create_comment_from_form(
    request: Request,
    session: SessionDep,
    target_type: Text,
    target_id: Annotated[int, Form()],
    body: Text = "",
    alignment: Text = "none",
    parent_id: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,  # noqa: A002
    csrf: Csrf = None,
) -> Response:
    """Post a comment or a reply from the thread's form."""
    back = safe_next(next)

    def act(principal: Principal) -> str:
        parent = int(parent_id) if parent_id.strip().isdigit() else None
        comment = talk_store.add_comment(
            session, principal, target_type, target_id, body, parent, alignment
        )
        return f"{back.split('#')[0]}#comment-{comment.id}"

    return _post(request, session, csrf, back, act)


@router.get("/participation/comments/{comment_id}")
def read_comment(session: SessionDep, comment_id: int) -> Response:
    """Go to the page showing a comment."""
    link = comment_link(session, comment_id)
    if link is None:
        raise Problem(404, "Not found", f"no comment {comment_id}")
    return RedirectResponse(link, status_code=303)


@router.post("/participation/comments/{comment_id}/vote")
def vote_comment_from_form(
    request: Request,
    session: SessionDep,
    comment_id: int,
    value: Annotated[int, Form()],
    next: Annotated[str | None, Form()] = None,  # noqa: A002
    csrf: Csrf = None,
) -> Response:
    """Vote a comment up or down (or take the vote back) from the thread."""
    back = safe_next(next)

    def act(principal: Principal) -> str:
        talk_store.vote_comment(session, principal, comment_id, value)
        return f"{back.split('#')[0]}#comment-{comment_id}"

    return _post(request, session, csrf, back, act, vote=True)


@router.post("/participation/comments/{comment_id}/edit")
def edit_comment_from_form(
    request: Request,
    session: SessionDep,
    comment_id: int,
    body: Text = "",
    next: Annotated[str | None, Form()] = None,  # noqa: A002
    csrf: Csrf = None,
) -> Response:
    """Save an edited comment."""
    back = safe_next(next)

    def act(principal: Principal) -> str:
        talk_store.edit_comment(session, principal, comment_id, body)
        return f"{back.split('#')[0]}#comment-{comment_id}"

    return _post(request, session, csrf, back, act)


@router.post("/participation/comments/{comment_id}/delete")
def delete_comment_from_form(
    request: Request,
    session: SessionDep,
    comment_id: int,
    next: Annotated[str | None, Form()] = None,  # noqa: A002
    csrf: Csrf = None,
) -> Response:
    """Delete one's own comment."""
    back = safe_next(next)

    def act(principal: Principal) -> str:
        talk_store.delete_comment(session, principal, comment_id)
        return f"{back.split('#')[0]}#comment-{comment_id}"

    return _post(request, session, csrf, back, act)


@router.post("/participation/reports")
def create_report_from_form(
    request: Request,
    session: SessionDep,
    target_type: Text,
    target_id: Annotated[int, Form()],
    reason: Text = "other",
    note: Text = "",
    next: Annotated[str | None, Form()] = None,  # noqa: A002
    csrf: Csrf = None,
) -> Response:
    """Report a comment, proposal or debate from its page."""
    back = safe_next(next)

    def act(principal: Principal) -> None:
        moderation.report_item(session, principal, target_type, target_id, reason, note)

    return _post(request, session, csrf, back, act)


def _processes(session: SessionDep) -> dict[int, Process]:
    return {p.id: p for p in session.scalars(select(Process).where(Process.published.is_(True)))}


@router.get(DEBATES_PAGE.path)
def read_debates_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    process_id: int | None = None,
) -> Response:
    """List debates (of one process, or of all published ones), and open a new one."""
    processes = _processes(session)
    process = processes.get(process_id) if process_id is not None else None
    if process_id is not None and process is None:
        raise Problem(404, "Not found", f"no process {process_id}")
    debates = talk_store.list_debates(session, process_id)
    counts = talk_store.comment_counts(session, "debate", [d.id for d in debates])
    return render(
        request,
        "participation/debates.html",
        principal,
        process=process,
        processes=sorted(processes.values(), key=lambda p: p.title),
        debates=[_debate_row(d, processes, counts) for d in debates],
        may_open=principal is not None and not principal.blocked,
        error=None,
    )


def _debate_row(
    debate: Debate, processes: dict[int, Process], counts: dict[int, int]
) -> dict[str, Any]:
    process = processes.get(debate.process_id)
    return {
        "id": debate.id,
        "title": debate.title,
        "official": debate.official,
        "status": debate.status,
        "process": process.title if process else "",
        "created": local_time(debate.created_at),
        "comments": counts.get(debate.id, 0),
    }


@router.post(DEBATES_PAGE.path)
def create_debate_from_form(
    request: Request,
    session: SessionDep,
    process_id: Annotated[int, Form()],
    title: Text = "",
    description: Text = "",
    csrf: Csrf = None,
) -> Response:
    """Open a debate from the debates page."""
    back = f"{DEBATES_PAGE.path}?process_id={process_id}"

    def act(principal: Principal) -> str:
        debate = talk_store.open_debate(session, principal, process_id, title, description)
        return f"{DEBATES_PAGE.path}/{debate.id}"

    return _post(request, session, csrf, back, act)


@router.get(DEBATES_PAGE.path + "/{debate_id}")
def read_debate_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    debate_id: int,
    sort: str = "best",
) -> Response:
    """Show a debate with its comments (a placeholder when hidden by moderation)."""
    _, debate = moderation.target_item(session, "debate", debate_id)
    process = session.get(Process, debate.process_id)
    here = f"{DEBATES_PAGE.path}/{debate_id}"
    hidden = bool(moderation.is_hidden(session, "debate", [debate_id]))
    is_moderator = principal is not None and roles.grants(principal.role, roles.MODERATOR)
    author = session.get(User, debate.author_id) if debate.author_id else None
    return render(
        request,
        "participation/debate.html",
        principal,
        debate=debate,
        process=process,
        author=author.username if author else None,
        created=local_time(debate.created_at),
        closed=local_time(debate.closed_at) if debate.closed_at else None,
        hidden=hidden,
        show=not hidden or is_moderator,
        thread=thread_view(session, "debate", debate_id, principal, sort, here),
        may_close=principal is not None
        and talk_store.is_operator(principal)
        and debate.status == "open",
        may_report=principal is not None and not principal.blocked and not hidden,
    )


@router.post(DEBATES_PAGE.path + "/{debate_id}/close")
def close_debate_from_form(
    request: Request,
    session: SessionDep,
    debate_id: int,
    conclusion: Text = "",
    csrf: Csrf = None,
) -> Response:
    """Close a debate with the city's conclusion (operators)."""
    back = f"{DEBATES_PAGE.path}/{debate_id}"

    def act(principal: Principal) -> None:
        talk_store.close_debate(session, principal, debate_id, conclusion)

    return _post(request, session, csrf, back, act)


@router.get(MODERATION_PAGE.path)
def read_moderation_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal, reviewed: bool = False
) -> Response:
    """Show moderators the reported and hidden items, and the latest actions."""
    if principal is None:
        return _sign_in(MODERATION_PAGE.path)
    if not roles.grants(principal.role, roles.MODERATOR):
        return render(request, "forbidden.html", principal, 403, needed=roles.MODERATOR)
    items = moderation.queue(session, include_reviewed=reviewed)
    for item in items:
        item["last_report"] = local_time(item["last_report_at"]) if item["last_report_at"] else ""
    users = {u.id: u.username for u in session.scalars(select(User))}
    actions = [
        {
            "at": local_time(a.at),
            "who": users.get(a.moderator_id, "automatic") if a.moderator_id else "automatic",
            "action": a.action,
            "target": users.get(a.target_id, str(a.target_id))
            if a.target_type == "user"
            else f"{a.target_type} {a.target_id}",
            "note": a.note,
        }
        for a in moderation.actions(session)
    ]
    return render(
        request,
        "participation/moderation.html",
        principal,
        items=items,
        actions=actions,
        reviewed=reviewed,
        threshold=moderation.hide_threshold(),
    )


def _moderate(
    request: Request, session: SessionDep, csrf: str | None, act: Callable[[Principal], object]
) -> Response:
    def run(principal: Principal) -> None:
        act(principal)  # back to the queue, whatever the action returns

    return _post(request, session, csrf, MODERATION_PAGE.path, run, moderator=True)


@router.post(MODERATION_PAGE.path + "/hide")
def hide_from_form(
    request: Request,
    session: SessionDep,
    target_type: Text,
    target_id: Annotated[int, Form()],
    note: Text = "",
    csrf: Csrf = None,
) -> Response:
    """Hide an item from the moderation queue."""
    return _moderate(
        request, session, csrf, lambda p: moderation.hide(session, p, target_type, target_id, note)
    )


@router.post(MODERATION_PAGE.path + "/restore")
def restore_from_form(
    request: Request,
    session: SessionDep,
    target_type: Text,
    target_id: Annotated[int, Form()],
    note: Text = "",
    csrf: Csrf = None,
) -> Response:
    """Restore an item and dismiss its reports."""
    return _moderate(
        request,
        session,
        csrf,
        lambda p: moderation.restore(session, p, target_type, target_id, note),
    )


@router.post(MODERATION_PAGE.path + "/block")
def block_from_form(
    request: Request,
    session: SessionDep,
    username: Text,
    reason: Text = "",
    csrf: Csrf = None,
) -> Response:
    """Block a user from posting."""
    return _moderate(
        request, session, csrf, lambda p: moderation.block(session, p, username.strip(), reason)
    )


@router.post(MODERATION_PAGE.path + "/unblock")
def unblock_from_form(
    request: Request,
    session: SessionDep,
    username: Text,
    reason: Text = "",
    csrf: Csrf = None,
) -> Response:
    """Lift a user's block."""
    return _moderate(
        request, session, csrf, lambda p: moderation.unblock(session, p, username.strip(), reason)
    )
