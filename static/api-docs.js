// The API docs page (/schema): starts the vendored Swagger UI on this site's OpenAPI schema.
// A file rather than an inline script, so the page keeps the site's Content-Security-Policy.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  const { specUrl, csrfCookie, csrfHeader } = root.dataset;
  document.body.style.margin = "0";

  function cookie(name) {
    const row = document.cookie.split("; ").find((r) => r.startsWith(name + "="));
    return row === undefined ? undefined : row.slice(name.length + 1);
  }

  window.ui = SwaggerUIBundle({
    url: specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // never ask a validator on another site
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: (request) => {
      // "Try it out" signed in by the session cookie: writes carry the CSRF token.
      const token = csrfCookie ? cookie(csrfCookie) : undefined;
      if (token !== undefined) request.headers[csrfHeader] = token;
      return request;
    },
  });
})();
