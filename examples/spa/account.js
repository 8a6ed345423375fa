// The account page: shows who the stored session token belongs to
// (GET /session), ends sessions (POST /signout, /signout/all) and changes the
// password (POST /password/change). Without a token, or when the API answers
// 401 unauthorized (expired, revoked, unknown), it sends you back to the Sign
// In page. All API text goes in with textContent.
(function () {
  'use strict';

  var api = window.SignupApi;
  var SIGN_IN_PAGE = 'signin.html';

  var card = document.getElementById('account');
  var banner = document.getElementById('banner');
  var status = document.getElementById('account-status');
  var retryButton = document.getElementById('retry-button');
  var signOutButton = document.getElementById('signout-button');
  var signOutAllButton = document.getElementById('signout-all-button');
  var changeForm = document.getElementById('change-form');
  var changeBanner = document.getElementById('change-banner');
  var changeSubmit = document.getElementById('change-submit');
  var currentPassword = document.getElementById('current_password');
  var newPassword = document.getElementById('new_password');
  var newPasswordConfirm = document.getElementById('new_password_confirm');
  var changeErrors = api.fieldErrors(changeForm, ['current_password', 'new_password', 'new_password_confirm']);
  var hideNewPassword = api.bindPasswordToggle(document.getElementById('new_password-toggle'), newPassword);

  // replace(), not assign(): Back must not return to a page of a session that is over.
  function toSignIn(reason) {
    window.location.replace(SIGN_IN_PAGE + (reason ? '?reason=' + encodeURIComponent(reason) : ''));
  }

  function text(value) {
    return typeof value === 'string' ? value : '';
  }

  // An RFC 3339 time in the reader's locale and time zone, the exact value in datetime=.
  function showTime(element, value) {
    var when = new Date(text(value));
    element.dateTime = text(value);
    element.textContent = isNaN(when.getTime())
      ? text(value)
      : when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function render(body) {
    var account = body.account && typeof body.account === 'object' ? body.account : {};
    var session = body.session && typeof body.session === 'object' ? body.session : {};
    document.getElementById('account-full-name').textContent = text(account.full_name);
    document.getElementById('account-email').textContent = text(account.email);
    document.getElementById('account-phone').textContent = text(account.phone_number);
    showTime(document.getElementById('account-verified'), account.email_verified_at);
    showTime(document.getElementById('session-expires'), session.expires_at);
    status.textContent = 'Signed in as ' + text(account.full_name) + '.';
    document.getElementById('account-details').hidden = false;
    document.getElementById('session-expiry').hidden = !session.expires_at;
    document.getElementById('account-actions').hidden = false;
    document.getElementById('change-password').hidden = false;
    card.dataset.state = 'signed_in';
    card.setAttribute('aria-busy', 'false');
  }

  async function load(token) {
    api.clearBanner(banner);
    retryButton.hidden = true;
    card.setAttribute('aria-busy', 'true');
    status.textContent = 'Loading your account…';
    var result = await api.request('GET', '/session', undefined, token);
    if (result.status === 200 && result.body && typeof result.body === 'object') {
      render(result.body);
      return;
    }
    if (result.status === 401) {
      // Expired, revoked or unknown: the token is of no further use.
      api.session.clear();
      toSignIn('session_ended');
      return;
    }
    card.dataset.state = 'failed';
    card.setAttribute('aria-busy', 'false');
    status.textContent = 'We could not load your account.';
    api.showBanner(banner, api.describeProblem(result));
    retryButton.hidden = false;
  }

  // path: /signout or /signout/all; reason: what the Sign In page says after a 204.
  async function signOut(path, reason) {
    var token = api.session.token();
    if (!token) {
      toSignIn('');
      return;
    }
    api.clearBanner(banner);
    signOutButton.disabled = true;
    signOutAllButton.disabled = true;
    var result = await api.request('POST', path, undefined, token);
    if (result.status === 204 || result.status === 401) {
      api.session.clear();
      // A 401 means this session was over already, so the other sessions
      // could not be ended with it: say so rather than "signed out everywhere".
      toSignIn(result.status === 204 ? reason : 'session_ended');
      return;
    }
    // Not signed out on the server: keep the token so that trying again can work.
    signOutButton.disabled = false;
    signOutAllButton.disabled = false;
    api.showBanner(banner, api.describeProblem(result));
  }

  function setChangeBusy(isBusy) {
    changeSubmit.disabled = isBusy;
    changeSubmit.textContent = isBusy ? 'Changing…' : 'Change password';
    changeForm.setAttribute('aria-busy', isBusy ? 'true' : 'false');
  }

  async function onChangePassword(event) {
    event.preventDefault();
    if (changeSubmit.disabled) return;
    var token = api.session.token();
    if (!token) {
      toSignIn('');
      return;
    }
    changeErrors.clearAll();
    api.clearBanner(changeBanner);
    // Checked here only: the API gets one new password and cannot know about the second.
    if (newPasswordConfirm.value !== newPassword.value) {
      changeErrors.add('new_password_confirm', 'does not match the new password', 'password_mismatch');
      newPasswordConfirm.focus();
      return;
    }
    setChangeBusy(true);
    var result = await api.request('POST', '/password/change',
      { current_password: currentPassword.value, new_password: newPassword.value }, token);
    setChangeBusy(false);
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    if (result.status === 200) {
      changeForm.reset();
      hideNewPassword();
      api.showBanner(changeBanner, {
        title: 'Password changed; other sessions were signed out.',
        detail: 'Use your new password the next time you sign in.'
      }, 'info');
      return;
    }
    if (result.status === 401 && body.code === 'invalid_credentials') {
      // The session is fine; only the current password was wrong.
      changeErrors.add('current_password', 'is incorrect', 'invalid_credentials');
      api.showBanner(changeBanner, { title: 'Your current password is incorrect.', detail: 'Check it and try again.' });
      currentPassword.value = '';
      currentPassword.focus();
      return;
    }
    if (result.status === 401) {
      api.session.clear();
      toSignIn('session_ended');
      return;
    }
    if (result.status === 422 && changeErrors.show(body.errors) > 0) {
      api.showBanner(changeBanner, { title: 'Please correct the fields marked below.', detail: '' });
      changeErrors.focusFirst();
      return;
    }
    if (result.status === 429) {
      // Wrong current passwords count as failed sign-ins; their window is minutes long.
      api.showBanner(changeBanner, {
        title: 'Too many attempts.',
        detail: result.retryAfter !== null
          ? 'For your security, please try again in ' + api.plural(Math.max(1, Math.ceil(result.retryAfter / 60)), 'minute') + '.'
          : 'For your security, please try again later.'
      });
      return;
    }
    api.showBanner(changeBanner, api.describeProblem(result));
  }

  changeForm.addEventListener('submit', onChangePassword);
  signOutButton.addEventListener('click', function () { signOut('/signout', 'signed_out'); });
  signOutAllButton.addEventListener('click', function () { signOut('/signout/all', 'signed_out_everywhere'); });
  retryButton.addEventListener('click', function () {
    var token = api.session.token();
    if (token) load(token);
    else toSignIn('');
  });
  // A page restored from the back/forward cache after signing out in this tab.
  window.addEventListener('pageshow', function (event) {
    if (event.persisted && !api.session.token()) toSignIn('');
  });

  var token = api.session.token();
  if (token) load(token);
  else toSignIn('');
})();
