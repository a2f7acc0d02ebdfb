from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.health import healthz
from core.metrics import metrics_view
from eventbus.status_page import bus_status_page
from notifications.dashboard import recovery_dashboard

lazy_setting = lazy(lambda name: str(getattr(settings, name)), str)

# The admin names the shop (read when a page renders); its index links the recovery dashboard.
admin.site.site_header = format_lazy("{} administration", lazy_setting("SHOP_NAME"))
admin.site.site_title = format_lazy("{} admin", lazy_setting("SHOP_NAME"))
admin.site.index_template = "admin/shop_index.html"

urlpatterns = [
    path("", include("shop.urls")),
    path("cart/", include("cart.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/", include("shop.api_urls")),
    path("api/", include("cart.api_urls")),
    path("api/events/", include("eventbus.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Its start script is a file of its own (?script), as the Content-Security-Policy wants.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/problems/", include("core.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/eventbus/status/", admin.site.admin_view(bus_status_page), name="eventbus-status"),
    path("admin/recovery/", admin.site.admin_view(recovery_dashboard), name="recovery-dashboard"),
    path("admin/", admin.site.urls),
]

# Problem details under /api/, the shop's pages elsewhere (core.error_pages).
handler400 = "core.error_pages.bad_request"
handler403 = "core.error_pages.permission_denied"
handler404 = "core.error_pages.page_not_found"
handler500 = "core.error_pages.server_error"

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
