from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import healthz
from notifications.dashboard import recovery_dashboard

# The admin names the shop; its index links the recovery dashboard.
admin.site.site_header = f"{settings.SHOP_NAME} administration"
admin.site.site_title = f"{settings.SHOP_NAME} admin"
admin.site.index_title = f"{settings.SHOP_NAME}: site administration"
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
