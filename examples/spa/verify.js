// The page the verification email links to (signup-api's VERIFY_URL):
// takes ?token= from its own URL and asks GET /verify?token= for the result.
// It also understands ?status= (what signup-api's VERIFY_REDIRECT_URL mode
// sends browsers), so it can serve as that target too.
(function () {
  'use strict';

  var api = window.SignupApi;
  var SUCCESS_TITLE = 'Verification Successful!';
  var STATES = {
    verified: {
      title: SUCCESS_TITLE,
      message: 'You have successfully verified your email address. Now you can sign in.',
      icon: '✓'
    },
    already_verified: {
      title: SUCCESS_TITLE,
      message: 'Your email address is already verified. Now you can sign in.',
      icon: '✓'
    },
    expired: {
      title: 'This verification link has expired',
      message: 'Verification links are valid for a limited time. Enter your email address below and we will ' +
        'send you a new link.',
      icon: '!',
      resend: true
    },
    invalid: {
      title: 'This verification link is not valid',
      message: 'Check that the whole link was copied from the email, or request a new verification email below.',
      icon: '!',
      resend: true
    },
    missing: {
      title: 'This verification link is incomplete',
      message: 'Open the link from your verification email again, or request a new verification email below.',
      icon: '!',
      resend: true
    },
    failed: {
      title: 'We could not verify your email address right now',
      message: 'Your link is still valid. Please try again.',
      icon: '!',
      retry: true
    }
  };

  var card = document.getElementById('verify');
  var banner = document.getElementById('banner');
  var resendForm = document.getElementById('resend-form');
  var emailInput = document.getElementById('email');
  var emailErrors = document.getElementById('email-errors');
  var resendButton = document.getElementById('resend-button');
  var resendStatus = document.getElementById('resend-status');
  var retryButton = document.getElementById('retry-button');
  var params = new URLSearchParams(window.location.search);

  // state: a key of STATES; message/email: text from the API (optional).
  function render(state, message, email) {
    var spec = STATES[state];
    var text = typeof message === 'string' && message ? message : spec.message;
    // The API's success message starts with the title shown above it.
    if (text.indexOf(spec.title) === 0 && text.length > spec.title.length) {
      text = text.slice(spec.title.length).trim();
    }
    card.dataset.state = state;
    card.setAttribute('aria-busy', 'false');
    document.getElementById('verify-icon').textContent = spec.icon;
    document.getElementById('verify-title').textContent = spec.title;
    document.getElementById('verify-message').textContent = text;
    var emailLine = document.getElementById('verify-email');
    emailLine.hidden = !email;
    emailLine.textContent = email ? 'Email: ' + email : '';
    document.title = spec.title + ' · Services Portal';
    resendForm.hidden = !spec.resend;
    retryButton.hidden = !spec.retry;
    // A verified person's next step is signing in, so Sign In replaces
    // "Back to Sign Up"; the other states still need the way back.
    var isVerified = state === 'verified' || state === 'already_verified';
    var signIn = document.getElementById('sign-in-link');
    signIn.href = api.configUrl('signInUrl') || 'signin.html';
    signIn.hidden = !isVerified;
    document.getElementById('sign-up-link').hidden = isVerified;
  }

  async function verify(token) {
    api.clearBanner(banner);
    card.dataset.state = 'loading';
    card.setAttribute('aria-busy', 'true');
    retryButton.hidden = true;
    document.getElementById('verify-icon').textContent = '';
    document.getElementById('verify-title').textContent = 'Verifying your email address…';
    document.getElementById('verify-message').textContent = 'This takes only a moment.';
    var result = await api.request('GET', '/verify?token=' + encodeURIComponent(token));
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    var code = typeof body.code === 'string' ? body.code : '';
    if (result.status === 200 && (body.status === 'verified' || body.status === 'already_verified')) {
      render(body.status, body.message, typeof body.email === 'string' ? body.email : '');
    } else if (result.status === 410) {
      render('expired');
    } else if (result.status === 400 && code === 'token_required') {
      render('missing');
    } else if (result.status === 400) {
      render('invalid');
    } else {
      render('failed');
      api.showBanner(banner, api.describeProblem(result));
    }
  }

  function clearEmailErrors() {
    emailErrors.replaceChildren();
    emailInput.removeAttribute('aria-invalid');
    resendForm.querySelector('.field').classList.remove('invalid');
  }

  async function onResend(event) {
    event.preventDefault();
    if (resendButton.disabled) return;
    clearEmailErrors();
    resendStatus.className = 'resend-status';
    resendStatus.textContent = '';
    var email = emailInput.value.trim();
    resendButton.disabled = true;
    resendStatus.textContent = 'Sending…';
    var result = await api.request('POST', '/verify/resend', { email: email });
    resendButton.disabled = false;
    var body = result.body && typeof result.body === 'object' ? result.body : {};
    if (result.status === 202) {
      api.startResendCooldown(resendButton, resendStatus, typeof body.message === 'string' && body.message
        ? body.message
        : 'If your account is waiting for verification, a new email is on its way.');
      return;
    }
    var errors = Array.isArray(body.errors) ? body.errors : [];
    if (result.status === 422 && errors.length > 0) {
      resendStatus.textContent = '';
      errors.forEach(function (error) {
        var item = document.createElement('li');
        item.textContent = error && typeof error.message === 'string' && error.message ? error.message : 'is invalid';
        emailErrors.appendChild(item);
      });
      emailInput.setAttribute('aria-invalid', 'true');
      resendForm.querySelector('.field').classList.add('invalid');
      emailInput.focus();
      return;
    }
    var problem = api.describeProblem(result);
    resendStatus.className = 'resend-status error';
    resendStatus.textContent = problem.title + '. ' + problem.detail;
  }

  resendForm.addEventListener('submit', onResend);
  emailInput.addEventListener('input', clearEmailErrors);

  var token = params.get('token');
  var redirectStatus = params.get('status');
  if (token) {
    retryButton.addEventListener('click', function () { verify(token); });
    verify(token);
  } else if (redirectStatus && STATES[redirectStatus] && redirectStatus !== 'failed' && redirectStatus !== 'missing') {
    render(redirectStatus);
  } else {
    render('missing');
  }
})();
