"""Which language a page is in, and the header's language switcher.

Order of choice: the person's saved language ("My settings", kept in the session with their other comfort
settings, so no query), else the switcher's cookie (django's `set_language`), else the browser's
Accept-Language, else LANGUAGE_CODE. The API is always English: its error bodies are a contract that vendors
parse, and DRF would otherwise translate its own messages into whatever the caller's client asks for.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from moderation.comfort import remember_comfort, save_user_settings, session_comfort

API_PREFIX = "/api/"


def supported(code: str) -> bool:
    return code in dict(settings.LANGUAGES)


class LanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (cookie, Accept-Language, `Vary: Accept-Language`), with the person's saved
    choice first and the API held to English."""

    def process_request(self, request):
        if request.path.startswith(API_PREFIX):
            language = settings.LANGUAGE_CODE
        else:
            chosen = session_comfort(request).language
            if not supported(chosen):
                return super().process_request(request)
            language = chosen
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


@require_POST
def switch_language(request):
    """The header's language form: Django's `set_language` (cookie, safe `next`), and for a signed-in person
    the choice is also saved as their setting, so it follows them to other browsers (audited)."""
    response = set_language(request)
    language = request.POST.get("language", "")
    # Only a change is saved and audited: the same choice again (a double click, a script posting it in a
    # loop) would otherwise write an audit row each time.
    if (
        request.user.is_authenticated
        and supported(language)
        and session_comfort(request).language != language
    ):
        save_user_settings(user=request.user, values={"language": language})
        remember_comfort(request, request.user)
    return response
