// Where the pages find signup-api. `make run` serves it on :8080; point this
// at your deployment (its CORS_ALLOWED_ORIGINS must list this page's origin,
// and its VERIFY_URL should be this folder's verify.html). Optional:
// signInUrl, where verify.html's Sign In button goes (default: signin.html
// beside it).
window.SIGNUP_CONFIG = { apiUrl: 'http://localhost:8080' };
