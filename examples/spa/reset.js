// The page the reset email links to (signup-api's PASSWORD_RESET_URL): takes
// ?token= from its own URL and, only when the person submits a new password
// (typed twice), POSTs both to /password/reset. Nothing is sent on load: mail
// scanners open links, and a GET must never use the token up. The password
// rules' warnings are the API's 422 errors, as on the sign-up page. All API
// text goes in with textContent.
(function () {
  'use strict';

  var api = window.SignupApi;
  var STATES = {
    done: {
      title: 'Password changed',
      message: 'Your password has been changed. You can now sign in with your new password.',
      icon: '✓'
    },
    invalid: {
      title: 'This password reset link is not valid',
      message: 'It was already used, a newer one was sent, or the password was changed since. ' +
        'Ask for a new email and use the link in it.',
      icon: '!'
    },
    expired: {
      title: 'This password reset link has expired',
      message: 'Reset links are valid for a limited time. Ask for a new email and use the link in it.',
      icon: '!'
    },
    missing: {
      title: 'This password reset link is incomplete',
      message: 'Open the link from your password reset email again, or copy all of it into your browser.',
      icon: '!'
    }
  };

  var card = document.getElementById('reset');
  var form = document.getElementById('reset-form');
  var banner = document.getElementById('banner');
  var submit = document.getElementById('submit');
  var password = document.getElementById('password');
  var confirmation = document.getElementById('password_confirm');
  var errors = api.fieldErrors(form, ['password', 'password_confirm']);
  api.bindPasswordToggle(document.getElementById('password-toggle'), password);
  var token = new URLSearchParams(window.location.search).get('token');

  // state: a key of STATES; message: text from the API (optional). Ends the form.
  function render(state, message) {
    var spec = STATES[state];
    card.dataset.state = state;
    document.getElementById('reset-icon').textContent = spec.icon;
    document.getElementById('reset-title').textContent = spec.title;
    document.getElementById('reset-message').textContent = typeof message === 'string' && message ? message : spec.message;
    document.title = spec.title + ' · Services Portal';
    form.hidden = true;
    password.value = '';
    confirmation.value = '';
    var isDone = state === 'done';
    var signIn = document.getElementById('sign-in-link');
    signIn.href = api.configUrl('signInUrl') || 'signin.html?reason=password_reset';
    signIn.hidden = !isDone;
    document.getElementById('forgot-link').hidden = isDone;
    document.getElementById('back-link').hidden = isDone;
  }

  function setBusy(isBusy) {
    submit.disabled = isBusy;
    submit.textContent = isBusy ? 'Changing…' : 'Change password';
    form.setAttribute('aria-busy', isBusy ? 'true' : 'false');
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (submit.disabled) return;
    errors.clearAll();
    api.clearBanner(banner);
    // Checked here only: the API gets one password and cannot know about the second.
    if (confirmation.value !== password.value) {
      errors.add('password_confirm', 'does not match the new password', 'password_mismatch');
      confirmation.focus();
      return;
    }
    setBusy(true);
    var result = await api.request('POST', '/password/reset', { token: token, password: password.value });
    setBusy(false);
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    if (result.status === 200) {
      // Every session of the account has just been revoked, this tab's included.
      api.session.clear();
      render('done', body.message);
      return;
    }
    if (result.status === 410) {
      render('expired');
      return;
    }
    if (result.status === 400 && body.code === 'invalid_token') {
      render('invalid');
      return;
    }
    if (result.status === 422 && errors.show(body.errors) > 0) {
      // The link is still good: fix the password and send again.
      api.showBanner(banner, { title: 'Please choose a stronger password.', detail: 'See the rules marked below.' });
      errors.focusFirst();
      return;
    }
    // Busy, unavailable, offline: nothing was changed and the link still works.
    api.showBanner(banner, api.describeProblem(result));
  }

  if (!token) {
    render('missing');
  } else {
    form.addEventListener('submit', onSubmit);
  }
})();
