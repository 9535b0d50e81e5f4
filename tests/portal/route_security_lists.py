"""Which write routes are open to whom, on purpose: the lists test_route_security.py checks.

Keys are (method, path template) as the app declares them; values say why. Adding a write
route that is not refused to anonymous callers or to citizens means adding it here, with
a reason, and a route listed here that disappears fails the test.
"""

from __future__ import annotations

# Routes anyone may call without signing in, each with why.
PUBLIC: dict[tuple[str, str], str] = {
    ("POST", "/signin"): "signing in is how one stops being anonymous (CSRF-checked)",
    ("POST", "/signup"): "creating an account (CSRF-checked, rate-limited)",
    ("POST", "/password/forgot"): "asks for a reset link by email; reveals nothing",
    ("POST", "/password/reset"): "the emailed one-time reset token is the credential",
    ("POST", "/oidc/token"): "OIDC clients authenticate with their client secret + code/PKCE",
    ("POST", "/oidc/userinfo"): "OIDC: the access token in the request is the credential",
    ("POST", "/ngsi-ld/v1/entityOperations/query"): "NGSI-LD query by POST: a read, public",
    ("POST", "/signout"): "ends one's own session; anonymous it changes nothing (CSRF-checked)",
}

# Routes that check their input before the caller; anonymous they must still not succeed.
INPUT_FIRST: dict[tuple[str, str], str] = {
    ("POST", "/oidc/authorize"): "consent: checks the client first (400), sends users to /signin",
}

# Routes only a device may call: a user's token or session is refused with 401.
DEVICE_ONLY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/ingest"): "readings are sent with the device's own key",
}

P = "/api/v1/participation"
# Routes a signed-in citizen (no special role) may call; all other writes need a role.
CITIZEN_MAY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/air/follows"): "follow a dong's air quality",
    ("DELETE", "/api/v1/air/follows/{follow_id}"): "stop following (own follows only)",
    ("POST", "/api/v1/air/notifications/{notification_id}/read"): "own notifications",
    ("POST", "/api/v1/air/notifications/read"): "own notifications",
    ("POST", "/air/alerts/follows"): "follow a dong (form)",
    ("POST", "/air/alerts/follows/{follow_id}/delete"): "stop following (form, own only)",
    ("POST", "/air/alerts/read"): "own notifications (form)",
    ("POST", P + "/processes/{ref}/proposals"): "citizens propose",
    ("PATCH", P + "/proposals/{proposal_id}"): "authors edit their own proposal",
    ("POST", P + "/proposals/{proposal_id}/images"): "authors add images to their proposal",
    ("PUT", P + "/follows/{target_type}/{target_id}"): "follow a process or proposal",
    ("DELETE", P + "/follows/{target_type}/{target_id}"): "unfollow",
    ("POST", P + "/comments"): "citizens comment",
    ("PATCH", P + "/comments/{comment_id}"): "authors edit their own comment",
    ("DELETE", P + "/comments/{comment_id}"): "authors (or moderators) delete a comment",
    ("PUT", P + "/comments/{comment_id}/vote"): "vote on a comment",
    ("POST", P + "/reports"): "report content to moderators",
    ("POST", P + "/debates"): "citizens open debates",
    ("POST", P + "/surveys/{survey_id}/responses"): "answer a survey",
    ("POST", P + "/opinions"): "citizens send opinions (civil complaints)",
    ("POST", P + "/opinions/{opinion_id}/follow"): "follow an opinion",
    ("DELETE", P + "/opinions/{opinion_id}/follow"): "unfollow an opinion",
    ("DELETE", P + "/sandbox/projects/{project_id}/signup"): "withdraw from a trial",
    ("POST", "/participation/processes/{slug}/follow"): "follow a process (form)",
    ("POST", "/participation/processes/{slug}/proposals"): "propose (form)",
    ("POST", "/participation/proposals/{proposal_id}/follow"): "follow (form)",
    ("POST", "/participation/comments"): "comment (form)",
    ("POST", "/participation/comments/{comment_id}/vote"): "vote on a comment (form)",
    ("POST", "/participation/comments/{comment_id}/edit"): "authors edit (form)",
    ("POST", "/participation/comments/{comment_id}/delete"): "authors delete (form)",
    ("POST", "/participation/reports"): "report content (form)",
    ("POST", "/participation/debates"): "open a debate (form)",
    ("POST", "/participation/surveys/{survey_id}"): "answer a survey (form)",
    ("POST", "/participation/opinions/new"): "send an opinion (form)",
    ("POST", "/participation/opinions/{opinion_id}/follow"): "follow an opinion (form)",
    ("POST", "/signout"): "end one's own session",
    ("POST", "/api/v1/me/notifications/read"): "own notifications",
    ("POST", "/notifications/{note_id}/read"): "own notifications (form)",
    ("POST", "/notifications/read-all"): "own notifications (form)",
    ("POST", "/notifications/digest"): "own digest choice (form)",
    ("POST", "/oidc/authorize"): "consent (or not) to a client signing oneself in",
    ("POST", "/account"): "edit one's own profile",
    ("POST", "/account/password"): "change one's own password",
    ("POST", "/account/verify/census"): "verify one's own residence",
    ("POST", "/account/verify/code"): "verify one's own residence with a code",
}

# Routes for verified residents only (support, vote, ballots, trials): a citizen who is not
# verified is refused with 403 (and so is an operator who never verified), whatever the role.
# The pages look the budget or trial up first, so without one they answer 404.
VERIFIED_ONLY: dict[tuple[str, str], str] = {
    ("POST", P + "/proposals/{proposal_id}/support"): "support a proposal",
    ("DELETE", P + "/proposals/{proposal_id}/support"): "withdraw support",
    ("POST", P + "/proposals/{proposal_id}/vote"): "vote on a proposal",
    ("PUT", P + "/budgets/{budget_id}/ballot"): "fill a budget ballot",
    ("POST", P + "/budgets/{budget_id}/ballot/checkout"): "cast a budget ballot",
    ("POST", P + "/sandbox/projects/{project_id}/signup"): "sign up for a trial",
    ("POST", "/participation/proposals/{proposal_id}/support"): "support (form)",
    ("POST", "/participation/proposals/{proposal_id}/vote"): "vote (form)",
    ("POST", "/participation/budgets/{budget_id}/ballot"): "fill a ballot (form)",
    ("POST", "/participation/budgets/{budget_id}/checkout"): "cast a ballot (form)",
    ("POST", "/sandbox/projects/{project_id}/signup"): "sign up for a trial (form)",
}

# Role routes an operator may not call either (they need admin or a service's own role).
OPERATOR_REFUSED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/devices"): "registering devices (and their keys) is for admins",
    ("POST", "/api/v1/devices/{device_id}/revoke"): "revoking device keys is for admins",
    ("POST", "/admin/residents/census"): "importing the census is for admins",
    ("POST", "/admin/residents/codes"): "issuing verification codes is for admins",
    ("POST", "/admin/residents/block"): "blocking accounts is for admins",
}

# Routes that never read the session cookie (so the CSRF check does not apply to them).
NO_SESSION: dict[tuple[str, str], str] = {
    **DEVICE_ONLY,
    ("POST", "/oidc/token"): "OIDC client authentication, no cookie",
    ("POST", "/oidc/userinfo"): "OIDC bearer access token, no cookie",
    ("POST", "/ngsi-ld/v1/entityOperations/query"): "a read",
}

# Routes that check their form fields before the caller: an anonymous request with an empty
# form gets 422 (nothing is stored); with the fields filled it is refused like any other.
# (Low risk, but not the rule "refuse first": making these fields optional and checking them
# after the sign-in would empty this list.)
_FORM_FIRST = "required Form() fields are validated before the page checks the caller"
VALIDATES_FIRST: dict[tuple[str, str], str] = {
    ("POST", "/air/alerts/follows"): _FORM_FIRST + " (area)",
    ("POST", "/participation/comments"): _FORM_FIRST + " (target)",
    ("POST", "/participation/comments/{comment_id}/vote"): _FORM_FIRST + " (value)",
    ("POST", "/participation/reports"): _FORM_FIRST + " (target)",
    ("POST", "/participation/debates"): _FORM_FIRST + " (process_id)",
    ("POST", "/participation/moderation/hide"): _FORM_FIRST + " (target)",
    ("POST", "/participation/moderation/restore"): _FORM_FIRST + " (target)",
    ("POST", "/participation/moderation/block"): _FORM_FIRST + " (username)",
    ("POST", "/participation/moderation/unblock"): _FORM_FIRST + " (username)",
    ("POST", "/notifications/digest"): _FORM_FIRST + " (digest)",
}

# Routes in CITIZEN_MAY that act on the caller's own proposal: another citizen gets 403.
OWNED_BY_AUTHOR = (
    ("PATCH", P + "/proposals/{proposal_id}"),
    ("POST", P + "/proposals/{proposal_id}/images"),
)
