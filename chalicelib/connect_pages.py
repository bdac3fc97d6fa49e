"""What an admin reads on opening a connect link and at the end, in English or French."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.connect import ConnectRequest, Failure
from chalicelib.domain.webhooks import webhook_overview
from chalicelib.pages import Html, content_security_policy, join, page, tag, void

# A failure's HTTP status, and its title and advice in each language.
FAILURES: dict[Failure | None, tuple[int, dict[str, tuple[str, str]]]] = {
    Failure.LINK_UNKNOWN: (
        404,
        {
            "en": (
                "This link is not valid",
                "Check that you copied the whole link, or ask the platform for a new one.",
            ),
            "fr": (
                "Ce lien n’est pas valide",
                "Vérifiez que vous avez copié le lien en entier, ou demandez-en un nouveau à la "
                "plateforme.",
            ),
        },
    ),
    Failure.LINK_USED: (
        410,
        {
            "en": (
                "This link was already used",
                "A connect link works only once. If you did not finish connecting, ask the "
                "platform for a new link.",
            ),
            "fr": (
                "Ce lien a déjà été utilisé",
                "Un lien de connexion ne sert qu’une fois. Si vous n’avez pas terminé, demandez "
                "un nouveau lien à la plateforme.",
            ),
        },
    ),
    Failure.LINK_EXPIRED: (
        410,
        {
            "en": (
                "This link has expired",
                "Connect links are valid for a few minutes only. Ask the platform for a new one.",
            ),
            "fr": (
                "Ce lien a expiré",
                "Les liens de connexion ne sont valables que quelques minutes. Demandez-en un "
                "nouveau à la plateforme.",
            ),
        },
    ),
    Failure.STATE_MISSING: (
        400,
        {
            "en": (
                "This page was opened without a connection request",
                "Start again from the link the platform gave you.",
            ),
            "fr": (
                "Cette page a été ouverte sans demande de connexion",
                "Recommencez à partir du lien fourni par la plateforme.",
            ),
        },
    ),
    Failure.STATE_UNKNOWN: (
        400,
        {
            "en": (
                "This connection request is not known",
                "It may come from another service, or be too old. Start again with a new link.",
            ),
            "fr": (
                "Cette demande de connexion est inconnue",
                "Elle provient peut-être d’un autre service, ou elle est trop ancienne. "
                "Recommencez avec un nouveau lien.",
            ),
        },
    ),
    Failure.STATE_EXPIRED: (
        410,
        {
            "en": (
                "This connection request has expired",
                "Too much time passed since you left for Stripe. Ask the platform for a new link "
                "and try again.",
            ),
            "fr": (
                "Cette demande de connexion a expiré",
                "Trop de temps s’est écoulé depuis votre passage sur Stripe. Demandez un nouveau "
                "lien à la plateforme et réessayez.",
            ),
        },
    ),
    Failure.STATE_USED: (
        409,
        {
            "en": (
                "This connection request was already completed",
                "If you have just connected your account, it is connected: check it in the "
                "platform. Otherwise, ask for a new link.",
            ),
            "fr": (
                "Cette demande de connexion est déjà terminée",
                "Si vous venez de connecter votre compte, il est connecté : vérifiez-le dans la "
                "plateforme. Sinon, demandez un nouveau lien.",
            ),
        },
    ),
    Failure.STATE_MISMATCH: (
        403,
        {
            "en": (
                "This connection was not started in this browser",
                "For your safety, a Stripe account can only be connected from the browser that "
                "opened the link. Open a new link in this browser and try again.",
            ),
            "fr": (
                "Cette connexion n’a pas été commencée dans ce navigateur",
                "Pour votre sécurité, un compte Stripe ne peut être connecté que depuis le "
                "navigateur qui a ouvert le lien. Ouvrez un nouveau lien dans ce navigateur et "
                "réessayez.",
            ),
        },
    ),
    Failure.ACCESS_DENIED: (
        403,
        {
            "en": (
                "You declined the connection",
                "Your Stripe account was not connected. If that was a mistake, ask the platform "
                "for a new link.",
            ),
            "fr": (
                "Vous avez refusé la connexion",
                "Votre compte Stripe n’a pas été connecté. S’il s’agit d’une erreur, demandez un "
                "nouveau lien à la plateforme.",
            ),
        },
    ),
    Failure.AUTHORIZATION_FAILED: (
        400,
        {
            "en": (
                "Stripe did not authorize the connection",
                "Nothing was connected. Ask the platform for a new link and try again.",
            ),
            "fr": (
                "Stripe n’a pas autorisé la connexion",
                "Aucun compte n’a été connecté. Demandez un nouveau lien à la plateforme et "
                "réessayez.",
            ),
        },
    ),
    Failure.CODE_REJECTED: (
        400,
        {
            "en": (
                "Stripe refused the authorization",
                "It had expired or was already used, so nothing was connected. Ask the platform "
                "for a new link and try again.",
            ),
            "fr": (
                "Stripe a refusé l’autorisation",
                "Elle avait expiré ou avait déjà servi : aucun compte n’a été connecté. Demandez "
                "un nouveau lien à la plateforme et réessayez.",
            ),
        },
    ),
    Failure.STRIPE_UNAVAILABLE: (
        503,
        {
            "en": (
                "Stripe could not be reached",
                "Nothing was connected. Try again in a few minutes with a new link.",
            ),
            "fr": (
                "Stripe est injoignable",
                "Aucun compte n’a été connecté. Réessayez dans quelques minutes avec un nouveau "
                "lien.",
            ),
        },
    ),
    Failure.ACCOUNT_TAKEN: (
        409,
        {
            "en": (
                "This Stripe account belongs to another company",
                "It is connected to another company on the platform, so it was not connected "
                "here. Connect another Stripe account, or contact the platform’s support.",
            ),
            "fr": (
                "Ce compte Stripe appartient à une autre entreprise",
                "Il est connecté à une autre entreprise de la plateforme ; il n’a donc pas été "
                "connecté ici. Connectez un autre compte Stripe ou contactez le support de la "
                "plateforme.",
            ),
        },
    ),
    Failure.ANOTHER_ACCOUNT_ACTIVE: (
        409,
        {
            "en": (
                "Your company already has a Stripe account connected",
                "Its payments keep going to that account, so the one you just chose was not "
                "connected (and the access you granted was withdrawn). To move to another Stripe "
                "account, ask the platform for a link that replaces the current one.",
            ),
            "fr": (
                "Votre entreprise a déjà un compte Stripe connecté",
                "Ses paiements continuent d’aller sur ce compte : celui que vous venez de choisir "
                "n’a donc pas été connecté (et l’accès accordé a été retiré). Pour passer à un "
                "autre compte Stripe, demandez à la plateforme un lien qui remplace l’actuel.",
            ),
        },
    ),
    Failure.ANOTHER_ACCOUNT_PENDING: (
        409,
        {
            "en": (
                "Your company is waiting for another Stripe account",
                "When your company moved to the platform, its existing Stripe account came "
                "along and waits for your authorisation. The account you just chose is a "
                "different one, so it was not connected (and the access you granted was "
                "withdrawn). Ask the platform for a new link and, at Stripe, sign in to the "
                "account your company used before; or ask the platform for a link that "
                "replaces it.",
            ),
            "fr": (
                "Votre entreprise attend un autre compte Stripe",
                "Quand votre entreprise est passée sur la plateforme, son compte Stripe existant "
                "l’a suivie et attend votre autorisation. Le compte que vous venez de choisir en "
                "est un autre : il n’a donc pas été connecté (et l’accès accordé a été retiré). "
                "Demandez un nouveau lien à la plateforme et, chez Stripe, connectez-vous au "
                "compte que votre entreprise utilisait ; ou demandez un lien qui le remplace.",
            ),
        },
    ),
    Failure.CSRF_FAILED: (
        403,
        {
            "en": (
                "This request did not come from the connect page",
                "Nothing was used up. Open the link the platform gave you again, in this browser, "
                "and press “Continue to Stripe” there.",
            ),
            "fr": (
                "Cette demande ne vient pas de la page de connexion",
                "Rien n’a été consommé. Rouvrez dans ce navigateur le lien fourni par la "
                "plateforme et cliquez sur « Continuer vers Stripe ».",
            ),
        },
    ),
    Failure.NOT_CONFIGURED: (
        503,
        {
            "en": (
                "Connecting Stripe accounts is not set up",
                "The service has no Stripe Connect client id yet. Contact the platform’s support.",
            ),
            "fr": (
                "La connexion de comptes Stripe n’est pas configurée",
                "Le service n’a pas encore d’identifiant client Stripe Connect. Contactez le "
                "support de la plateforme.",
            ),
        },
    ),
    None: (
        500,
        {
            "en": (
                "Something went wrong",
                "Nothing was connected. Please try again later with a new link.",
            ),
            "fr": (
                "Une erreur est survenue",
                "Aucun compte n’a été connecté. Réessayez plus tard avec un nouveau lien.",
            ),
        },
    ),
}

_LINK = {
    "en": {
        "title": "Connect a Stripe account",
        "intro": "You are about to connect a Stripe account to receive the payments of this "
        "company on the platform.",
        "company": "Company",
        "email": "Link made for",
        "replace": "The Stripe account you choose will replace the one connected now: new "
        "payments will go to it.",
        "check": "Continue only if you expected this link. Nothing happens until you press the "
        "button.",
        "continue": "Continue to Stripe",
    },
    "fr": {
        "title": "Connecter un compte Stripe",
        "intro": "Vous allez connecter un compte Stripe pour recevoir les paiements de cette "
        "entreprise sur la plateforme.",
        "company": "Entreprise",
        "email": "Lien créé pour",
        "replace": "Le compte Stripe que vous choisirez remplacera celui connecté actuellement : "
        "les nouveaux paiements iront vers lui.",
        "check": "Ne continuez que si vous attendiez ce lien. Rien ne se passe tant que vous "
        "n’avez pas cliqué sur le bouton.",
        "continue": "Continuer vers Stripe",
    },
}

_CONNECTED = {
    "en": {
        "title": "Your Stripe account is connected",
        "intro": "The Stripe account {account} is now connected for {company}.",
        "again": "It was connected here before: its history is kept, nothing is duplicated.",
        "replaced": "It replaces the account {account}, which takes no new payments.",
        "webhook": "Last step: the account’s webhook endpoint",
        "how": "In your Stripe dashboard, open Developers → Webhooks → Add endpoint, and enter:",
        "url": "Endpoint URL",
        "events": "Events to send",
        "secret": "Then give the endpoint’s signing secret (whsec_…) to the platform.",
        "back": "Back to the platform",
        "close": "You can close this page.",
    },
    "fr": {
        "title": "Votre compte Stripe est connecté",
        "intro": "Le compte Stripe {account} est maintenant connecté pour {company}.",
        "again": "Il avait déjà été connecté ici : son historique est conservé, rien n’est "
        "dupliqué.",
        "replaced": "Il remplace le compte {account}, qui ne reçoit plus de nouveaux paiements.",
        "webhook": "Dernière étape : le endpoint webhook du compte",
        "how": "Dans votre tableau de bord Stripe, ouvrez Développeurs → Webhooks → Ajouter un "
        "endpoint, puis saisissez :",
        "url": "URL du endpoint",
        "events": "Événements à envoyer",
        "secret": "Communiquez ensuite le secret de signature du endpoint (whsec_…) à la "
        "plateforme.",
        "back": "Retour à la plateforme",
        "close": "Vous pouvez fermer cette page.",
    },
}


def failure_page(failure: Failure | None, lang: str, return_url: str | None = None) -> Response:
    status, texts = FAILURES[failure]
    title, advice = texts[lang]
    body = join(tag("p", advice, id="advice"), _ending(lang, return_url))
    return page(status, lang, str(failure or "error"), "failed", title, body)


def link_page(
    request: ConnectRequest,
    lang: str,
    form_url: str,
    csrf: str,
    form_action: str,
    headers: dict[str, str],
) -> Response:
    """The page a connect link opens: what it is for, and the one button that spends it."""
    texts = _LINK[lang]
    colon = " :" if lang == "fr" else ""
    facts = [
        tag("dt", texts["company"] + colon),
        tag("dd", request.company_name or request.company_id, id="company"),
    ]
    if request.email:
        facts += [tag("dt", texts["email"] + colon), tag("dd", request.email, id="email")]
    form = tag(
        "form",
        join(
            void("input", type="hidden", name="csrf_token", value=csrf),
            tag("button", texts["continue"], type="submit", id="continue"),
        ),
        method="post",
        action=form_url,
    )
    body = join(
        tag("p", texts["intro"]),
        tag("dl", join(*facts)),
        tag("p", texts["replace"], id="replaces") if request.replace else Html(""),
        tag("p", texts["check"]),
        form,
    )
    csp = {"Content-Security-Policy": content_security_policy(form_action)}
    return page(200, lang, "connect_link", "ok", texts["title"], body, {**headers, **csp})


def connected_page(
    account: ConnectedAccount,
    lang: str,
    base_url: str,
    again: bool,
    return_url: str | None,
    headers: dict[str, str],
    replaced: ConnectedAccount | None = None,
) -> Response:
    texts = _CONNECTED[lang]
    overview = webhook_overview(base_url, account.account_id)
    before, _, after = texts["intro"].partition("{account}")
    intro = tag(
        "p",
        join(
            before,
            tag("code", account.account_id, id="account-id"),
            after.replace("{company}", account.company_id),
        ),
    )
    events = join(*(tag("li", tag("code", event)) for event in overview["enabled_events"]))
    body = join(
        intro,
        tag("p", texts["again"]) if again else Html(""),
        _replaced(texts["replaced"], replaced) if replaced else Html(""),
        tag("h2", texts["webhook"]),
        tag("p", texts["how"]),
        tag(
            "p",
            join(
                texts["url"],
                " : " if lang == "fr" else ": ",
                tag("code", overview["url"], id="webhook-url"),
            ),
        ),
        tag("p", texts["events"] + (" :" if lang == "fr" else ":")),
        tag("ul", events, id="webhook-events"),
        tag("p", texts["secret"]),
        _ending(lang, return_url),
    )
    return page(200, lang, "connected", "ok", texts["title"], body, headers)


def _replaced(text: str, old: ConnectedAccount) -> Html:
    before, _, after = text.partition("{account}")
    return tag("p", join(before, tag("code", old.account_id, id="replaced-id"), after))


def _ending(lang: str, return_url: str | None) -> Html:
    if return_url:
        return tag("p", tag("a", _CONNECTED[lang]["back"], href=return_url, id="back"))
    return tag("p", _CONNECTED[lang]["close"])
