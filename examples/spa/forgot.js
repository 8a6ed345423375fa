// The Forgot password page: sends the address to POST /password/forgot and,
// on its 202, shows "Check your email" with the API's message. The API
// answers the same for every well-formed address, so this page cannot tell
// (and does not say) whether the address has an account. All API text goes
// in with textContent.
(function () {
  'use strict';

  var api = window.SignupApi;
  // Shown if a 202 somehow comes without a message.
  var FALLBACK_SENT = 'If an account uses this address, we have sent it an email with a link to reset the password.';

  var card = document.getElementById('forgot');
  var form = document.getElementById('forgot-form');
  var banner = document.getElementById('banner');
  var submit = document.getElementById('submit');
  var email = document.getElementById('email');
  var sent = document.getElementById('forgot-sent');
  var resendButton = document.getElementById('resend-button');
  var resendStatus = document.getElementById('resend-status');
  var errors = api.fieldErrors(form, ['email']);
  var sentTo = '';

  function setBusy(isBusy) {
    submit.disabled = isBusy;
    submit.textContent = isBusy ? 'Sending…' : 'Send reset link';
    form.setAttribute('aria-busy', isBusy ? 'true' : 'false');
  }

  // The per-client limit's window is an hour: say it in minutes, at least 1.
  function throttledProblem(result) {
    return {
      title: 'Too many requests.',
      detail: result.retryAfter !== null
        ? 'Please try again in ' + api.plural(Math.max(1, Math.ceil(result.retryAfter / 60)), 'minute') + '.'
        : 'Please try again later.'
    };
  }

  function messageOf(result) {
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    return typeof body.message === 'string' && body.message ? body.message : FALLBACK_SENT;
  }

  function showSent(result) {
    document.getElementById('sent-message').textContent = messageOf(result);
    document.getElementById('sent-email').textContent = sentTo;
    document.getElementById('forgot-lead').hidden = true;
    form.hidden = true;
    sent.hidden = false;
    card.dataset.state = 'sent';
    // A second email within the minute would silently not be sent (the API's
    // per-address limit answers the same 202), so the button waits it out.
    api.startResendCooldown(resendButton, resendStatus, '');
  }

  // Sends the request; returns the result for the caller to place.
  async function ask(address) {
    return api.request('POST', '/password/forgot', { email: address });
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (submit.disabled) return;
    errors.clearAll();
    api.clearBanner(banner);
    var address = email.value.trim();
    setBusy(true);
    var result = await ask(address);
    setBusy(false);
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    if (result.status === 202) {
      sentTo = address;
      showSent(result);
      return;
    }
    if (result.status === 422 && errors.show(body.errors) > 0) {
      errors.focusFirst();
      return;
    }
    api.showBanner(banner, result.status === 429 ? throttledProblem(result) : api.describeProblem(result));
  }

  async function onResend() {
    if (!sentTo || resendButton.disabled) return;
    resendButton.disabled = true;
    resendStatus.className = 'resend-status';
    resendStatus.textContent = 'Sending…';
    var result = await ask(sentTo);
    if (result.status === 202) {
      api.startResendCooldown(resendButton, resendStatus, messageOf(result));
      return;
    }
    var problem = result.status === 429 ? throttledProblem(result) : api.describeProblem(result);
    resendStatus.className = 'resend-status error';
    resendStatus.textContent = problem.title + ' ' + problem.detail;
    resendButton.disabled = false;
  }

  form.addEventListener('submit', onSubmit);
  resendButton.addEventListener('click', onResend);
})();
