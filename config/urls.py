from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import healthz
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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/recovery/", admin.site.admin_view(recovery_dashboard), name="recovery-dashboard"),
    path("admin/", admin.site.urls),
]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
