// The Sign In page: sends email and password to POST /signin, keeps the
// session token of a 200 (see api.js for where and why) and opens the
// account page; every other answer becomes a message on this page. All API
// text goes in with textContent.
(function () {
  'use strict';

  var api = window.SignupApi;
  var FIELDS = ['email', 'password'];
  var ACCOUNT_PAGE = 'account.html';
  // Why the account page (account.js) or the reset page (reset.js) sent us here (?reason=).
  var REASONS = {
    signed_out: { title: 'You have signed out.', detail: '' },
    signed_out_everywhere: { title: 'You have signed out everywhere.', detail: 'Every session of your account has ended.' },
    session_ended: { title: 'Your session has ended.', detail: 'Please sign in again.' },
    password_reset: { title: 'Your password has been changed.', detail: 'Sign in with your new password.' }
  };

  var form = document.getElementById('signin-form');
  var banner = document.getElementById('banner');
  var submit = document.getElementById('submit');
  var email = document.getElementById('email');
  var password = document.getElementById('password');
  api.bindPasswordToggle(document.getElementById('password-toggle'), password);

  function clearFieldErrors(field) {
    document.getElementById(field + '-errors').replaceChildren();
    document.getElementById(field).removeAttribute('aria-invalid');
    form.querySelector('[data-field="' + field + '"]').classList.remove('invalid');
  }

  function clearAllErrors() {
    FIELDS.forEach(clearFieldErrors);
    api.clearBanner(banner);
  }

  // Puts each {field, message} of a 422 under its input; returns how many it placed.
  function showFieldErrors(errors) {
    var placed = 0;
    errors.forEach(function (error) {
      var field = error && typeof error.field === 'string' ? error.field : '';
      if (FIELDS.indexOf(field) < 0) return;
      var item = document.createElement('li');
      item.textContent = typeof error.message === 'string' && error.message ? error.message : 'is invalid';
      if (typeof error.code === 'string') item.dataset.code = error.code;
      document.getElementById(field + '-errors').appendChild(item);
      document.getElementById(field).setAttribute('aria-invalid', 'true');
      form.querySelector('[data-field="' + field + '"]').classList.add('invalid');
      placed++;
    });
    return placed;
  }

  function setBusy(isBusy) {
    submit.disabled = isBusy;
    submit.textContent = isBusy ? 'Signing in…' : 'Sign In';
    form.setAttribute('aria-busy', isBusy ? 'true' : 'false');
  }

  // Retry-After in whole minutes, at least 1 (the limits' windows are minutes long).
  function throttledProblem(result) {
    return {
      title: 'Too many sign-in attempts.',
      detail: result.retryAfter !== null
        ? 'For your security, please try again in ' + api.plural(Math.max(1, Math.ceil(result.retryAfter / 60)), 'minute') + '.'
        : 'For your security, please try again later.'
    };
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (submit.disabled) return;
    clearAllErrors();
    setBusy(true);
    var result = await api.request('POST', '/signin', { email: email.value.trim(), password: password.value });
    setBusy(false);
    var body = result.body && typeof result.body === 'object' ? result.body : {};

    if (result.status === 200 && typeof body.session_token === 'string' && body.session_token) {
      if (!api.session.save(body.session_token)) {
        api.showBanner(banner, {
          title: 'Your browser does not let this page keep you signed in.',
          detail: 'Allow site data (session storage) for this page and sign in again.'
        });
        return;
      }
      password.value = '';
      window.location.assign(ACCOUNT_PAGE);
      return;
    }
    if (result.status === 401) {
      // Unknown email and wrong password get the same answer from the API, and here.
      api.showBanner(banner, { title: 'The email or password is incorrect.', detail: 'Check both and try again.' });
      password.value = '';
      password.focus();
      return;
    }
    if (result.status === 403 && body.code === 'email_not_verified') {
      api.showBanner(banner, {
        title: 'Your email address is not verified yet.',
        detail: 'We sent you a new verification email: open the link in it, then sign in here.'
      }, 'info');
      return;
    }
    if (result.status === 429) {
      api.showBanner(banner, throttledProblem(result));
      return;
    }
    var errors = Array.isArray(body.errors) ? body.errors : [];
    if (result.status === 422 && showFieldErrors(errors) > 0) {
      api.showBanner(banner, { title: 'Please fill in the fields marked below.', detail: '' });
      var first = FIELDS.filter(function (f) { return document.getElementById(f).getAttribute('aria-invalid') === 'true'; })[0];
      document.getElementById(first).focus();
      return;
    }
    api.showBanner(banner, api.describeProblem(result));
  }

  form.addEventListener('submit', onSubmit);
  FIELDS.forEach(function (field) {
    document.getElementById(field).addEventListener('input', function () { clearFieldErrors(field); });
  });

  var reason = new URLSearchParams(window.location.search).get('reason');
  if (Object.prototype.hasOwnProperty.call(REASONS, reason)) api.showBanner(banner, REASONS[reason], 'info');
})();
