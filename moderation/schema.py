"""drf-spectacular extensions: describe our authentication in the OpenAPI schema."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class VendorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "moderation.authentication.VendorTokenAuthentication"
    name = "vendorToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A vendor API token (`mrv_…`)."}
