// Start Swagger UI on the page's OpenAPI URL (kept out of the HTML for the CSP).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({ url: root.dataset.openapiUrl, domNode: root, deepLinking: true });
})();
