// Talks to signup-api. Shared by every page of this folder; no dependencies.
// Every answer becomes one plain object, so the pages never deal with fetch
// exceptions, non-JSON bodies or header parsing themselves.
(function () {
  'use strict';

  var DEFAULT_API_URL = 'http://localhost:8080';
  // A sign-up may wait up to HASH_QUEUE_TIMEOUT_MS (10 s) for a hash slot.
  var TIMEOUT_MS = 30000;

  function apiUrl() {
    var config = window.SIGNUP_CONFIG || {};
    var url = typeof config.apiUrl === 'string' && config.apiUrl.trim() !== '' ? config.apiUrl.trim() : DEFAULT_API_URL;
    return url.replace(/\/+$/, '');
  }

  // An http(s) URL from the config, or null (never a javascript: URL).
  function configUrl(name) {
    var value = (window.SIGNUP_CONFIG || {})[name];
    if (typeof value !== 'string') return null;
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // Retry-After is delta-seconds or an HTTP date; returns whole seconds or null.
  function parseRetryAfter(value) {
    if (!value) return null;
    if (/^\s*\d+\s*$/.test(value)) return parseInt(value, 10);
    var when = Date.parse(value);
    if (isNaN(when)) return null;
    return Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  /**
   * method, path ("/signup"), payload (object sent as JSON, or undefined),
   * token (a session token sent as "Authorization: Bearer", or undefined).
   * Resolves (never rejects) to
   *   { status, body, retryAfter, requestId, failure }
   * where status is the HTTP status (0 when there was no answer), body the
   * parsed JSON or null, and failure is null, "network" or "timeout".
   */
  async function request(method, path, payload, token) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    var init = {
      method: method,
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
      signal: controller.signal
    };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    if (typeof token === 'string' && token !== '') {
      init.headers.Authorization = 'Bearer ' + token;
    }
    var result = { status: 0, body: null, retryAfter: null, requestId: null, failure: null };
    try {
      var response = await fetch(apiUrl() + path, init);
      result.status = response.status;
      result.retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
      result.requestId = response.headers.get('X-Request-Id');
      var text = await response.text();
      if (text) {
        try {
          result.body = JSON.parse(text);
        } catch (e) {
          result.body = null;
        }
      }
    } catch (e) {
      result.failure = e && e.name === 'AbortError' ? 'timeout' : 'network';
    } finally {
      clearTimeout(timer);
    }
    return result;
  }

  function plural(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
  }

  /**
   * A problem that belongs to no field, as { title, detail } for a banner:
   * no answer, a timeout, 503 (with its Retry-After), 5xx, or any other
   * answer the page does not handle itself.
   */
  function describeProblem(result) {
    if (result.failure === 'timeout') {
      return {
        title: 'The service did not answer in time',
        detail: 'Please try again in a moment.'
      };
    }
    if (result.failure === 'network') {
      return {
        title: 'We could not reach the service',
        detail: 'Check your internet connection and try again.'
      };
    }
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    var title = typeof body.title === 'string' && body.title ? body.title : 'Something went wrong';
    var detail = typeof body.detail === 'string' ? body.detail : '';
    if (result.status === 503) {
      title = 'The service is busy right now';
      detail = result.retryAfter !== null
        ? 'Please try again in ' + plural(Math.max(result.retryAfter, 1), 'second') + '.'
        : 'Please try again shortly.';
    } else if (result.status >= 500) {
      detail = detail || 'Please try again later.';
    } else if (!detail) {
      detail = 'Unexpected answer from the service (HTTP ' + result.status + ').';
    }
    if (result.status >= 500 && result.requestId) {
      detail += ' Reference: ' + result.requestId + '.';
    }
    return { title: title, detail: detail };
  }

  // Fills a banner element with a title and a detail line (as text) and shows it.
  function showBanner(banner, problem, kind) {
    banner.replaceChildren();
    var strong = document.createElement('strong');
    strong.textContent = problem.title;
    banner.appendChild(strong);
    if (problem.detail) {
      var span = document.createElement('span');
      span.textContent = ' ' + problem.detail;
      banner.appendChild(span);
    }
    banner.className = 'banner banner-' + (kind || 'error');
  }

  function clearBanner(banner) {
    banner.replaceChildren();
    banner.className = 'banner';
  }

  // Makes toggle show and hide the password in input; returns a function
  // that hides it again (for when the form is reset).
  function bindPasswordToggle(toggle, input) {
    function set(show) {
      input.type = show ? 'text' : 'password';
      toggle.textContent = show ? 'Hide' : 'Show';
      toggle.setAttribute('aria-pressed', show ? 'true' : 'false');
    }
    toggle.addEventListener('click', function () { set(input.type === 'password'); });
    return function () { set(false); };
  }

  /**
   * The error lists of a form's fields, for the pages that came after the
   * sign-up and sign-in pages. Each name in fields has an input #<name>, a
   * list #<name>-errors and a wrapper [data-field="<name>"] in form; the
   * names are the API's field names, so a 422's errors land under their
   * inputs. Returns { clear(name), clearAll(), add(name, message, code),
   * show(errors) (how many of the API's {field, code, message} it placed),
   * focusFirst() }.
   */
  function fieldErrors(form, fields) {
    function wrapper(name) {
      return form.querySelector('[data-field="' + name + '"]');
    }
    function clear(name) {
      document.getElementById(name + '-errors').replaceChildren();
      document.getElementById(name).removeAttribute('aria-invalid');
      wrapper(name).classList.remove('invalid');
    }
    function add(name, message, code) {
      var item = document.createElement('li');
      item.textContent = message;
      if (code) item.dataset.code = code;
      document.getElementById(name + '-errors').appendChild(item);
      document.getElementById(name).setAttribute('aria-invalid', 'true');
      wrapper(name).classList.add('invalid');
    }
    fields.forEach(function (name) {
      document.getElementById(name).addEventListener('input', function () { clear(name); });
    });
    return {
      clear: clear,
      clearAll: function () { fields.forEach(clear); },
      add: add,
      show: function (errors) {
        var placed = 0;
        (Array.isArray(errors) ? errors : []).forEach(function (error) {
          var name = error && typeof error.field === 'string' ? error.field : '';
          if (fields.indexOf(name) < 0) return;
          add(name, typeof error.message === 'string' && error.message ? error.message : 'is invalid',
            typeof error.code === 'string' ? error.code : '');
          placed++;
        });
        return placed;
      },
      focusFirst: function () {
        var first = fields.filter(function (name) {
          return document.getElementById(name).getAttribute('aria-invalid') === 'true';
        })[0];
        if (first) document.getElementById(first).focus();
      }
    };
  }

  // After a resend the API sends nothing more to that address for a minute
  // (RESEND_PER_MINUTE=1, emails beyond the sign-up's own), and its 202 is
  // the same whether or not it sent: so the button says when asking again can
  // help instead of accepting clicks that would silently do nothing.
  var RESEND_COOLDOWN_S = 60;

  function startResendCooldown(button, status, message) {
    var endsAt = Date.now() + RESEND_COOLDOWN_S * 1000;
    button.disabled = true;
    function tick() {
      var left = Math.ceil((endsAt - Date.now()) / 1000);
      if (left <= 0) {
        button.disabled = false;
        status.textContent = message;
        return;
      }
      status.textContent = message + ' You can ask again in ' + left + ' s.';
      setTimeout(tick, 1000);
    }
    tick();
  }

  // The session token lives in sessionStorage, never in localStorage, to keep
  // what a leak can reach small:
  // - it dies with the tab: closing it signs this page out, so a shared or
  //   borrowed machine does not stay signed in for the next person, and the
  //   token is not left in the profile on disk for months as localStorage is;
  // - only this tab of this origin can read it; localStorage would hand it to
  //   every tab and window of the origin, so one XSS anywhere on the site, at
  //   any later time, could collect it. Script injected into these pages could
  //   still read it, which is why they run scripts from this folder only (CSP)
  //   and put API text in with textContent;
  // - the browser never attaches it by itself (unlike a cookie), so no other
  //   site can make requests with it: no CSRF defences are needed.
  // The server stores only its hash and revokes it on Sign Out / Sign out
  // everywhere. Storage that throws (disabled, full) just means signed out.
  var SESSION_KEY = 'signup-api.session-token';

  var session = {
    // The stored token, or null.
    token: function () {
      try {
        var token = window.sessionStorage.getItem(SESSION_KEY);
        return token ? token : null;
      } catch (e) {
        return null;
      }
    },
    // Returns whether the token could be stored.
    save: function (token) {
      try {
        window.sessionStorage.setItem(SESSION_KEY, token);
        return true;
      } catch (e) {
        return false;
      }
    },
    clear: function () {
      try {
        window.sessionStorage.removeItem(SESSION_KEY);
      } catch (e) {
        // Nothing was stored then.
      }
    }
  };

  window.SignupApi = {
    session: session,
    plural: plural,
    fieldErrors: fieldErrors,
    bindPasswordToggle: bindPasswordToggle,
    startResendCooldown: startResendCooldown,
    apiUrl: apiUrl,
    configUrl: configUrl,
    request: request,
    describeProblem: describeProblem,
    showBanner: showBanner,
    clearBanner: clearBanner
  };
})();
