// The Sign Up page: sends the form to POST /signup, puts each field error the
// API lists next to its field, other problems in the banner, and shows the
// API's message in a pop-up on 201. All API text goes in with textContent.
(function () {
  'use strict';

  var api = window.SignupApi;
  var FIELDS = ['full_name', 'email', 'password', 'phone_number', 'accept_terms'];
  // Shown if a 201 somehow comes without a message.
  var FALLBACK_SUCCESS = 'Congratulations Your account has been successfully created!. ' +
    'Please check your email for your account verification.';

  var form = document.getElementById('signup-form');
  var banner = document.getElementById('banner');
  var submit = document.getElementById('submit');
  var dialog = document.getElementById('success-dialog');
  var resendButton = document.getElementById('resend-button');
  var resendStatus = document.getElementById('resend-status');
  var registeredEmail = '';
  var hidePassword = api.bindPasswordToggle(document.getElementById('password-toggle'),
    document.getElementById('password'));

  function input(field) {
    return document.getElementById(field);
  }

  function clearFieldErrors(field) {
    var list = document.getElementById(field + '-errors');
    if (list) list.replaceChildren();
    var el = input(field);
    if (el) el.removeAttribute('aria-invalid');
    var wrapper = form.querySelector('[data-field="' + field + '"]');
    if (wrapper) wrapper.classList.remove('invalid');
  }

  function clearAllErrors() {
    FIELDS.forEach(clearFieldErrors);
    api.clearBanner(banner);
  }

  // Puts each {field, message} under its input; returns the errors that
  // name no field of this form.
  function showFieldErrors(errors) {
    var unplaced = [];
    errors.forEach(function (error) {
      var field = error && typeof error.field === 'string' ? error.field : '';
      var list = FIELDS.indexOf(field) >= 0 ? document.getElementById(field + '-errors') : null;
      var message = error && typeof error.message === 'string' && error.message ? error.message : 'is invalid';
      if (!list) {
        unplaced.push(error);
        return;
      }
      var item = document.createElement('li');
      item.textContent = message;
      if (typeof error.code === 'string') item.dataset.code = error.code;
      list.appendChild(item);
      input(field).setAttribute('aria-invalid', 'true');
      form.querySelector('[data-field="' + field + '"]').classList.add('invalid');
    });
    return unplaced;
  }

  function setBusy(isBusy) {
    submit.disabled = isBusy;
    submit.textContent = isBusy ? 'Signing up…' : 'Sign Up';
    form.setAttribute('aria-busy', isBusy ? 'true' : 'false');
  }

  function payload() {
    return {
      full_name: input('full_name').value,
      email: input('email').value.trim(),
      password: input('password').value,
      phone_number: input('phone_number').value,
      accept_terms: input('accept_terms').checked
    };
  }

  function showSuccess(body, email) {
    registeredEmail = body && typeof body.email === 'string' && body.email ? body.email : email;
    document.getElementById('success-message').textContent =
      body && typeof body.message === 'string' && body.message ? body.message : FALLBACK_SUCCESS;
    document.getElementById('success-email').textContent = registeredEmail;
    resendStatus.textContent = '';
    resendButton.disabled = false;
    form.reset();
    hidePassword();
    dialog.showModal();
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (submit.disabled) return;
    clearAllErrors();
    var data = payload();
    setBusy(true);
    var result = await api.request('POST', '/signup', data);
    setBusy(false);

    if (result.status === 201) {
      showSuccess(result.body, data.email);
      return;
    }
    var errors = result.body && Array.isArray(result.body.errors) ? result.body.errors : [];
    if ((result.status === 422 || result.status === 400) && errors.length > 0) {
      var unplaced = showFieldErrors(errors);
      var detail = '';
      if (unplaced.length > 0) {
        detail = unplaced.map(function (e) {
          return (e.field ? e.field + ' ' : '') + (e.message || e.code || 'is invalid');
        }).join('; ') + '.';
      }
      api.showBanner(banner, { title: 'Please correct the fields marked below.', detail: detail });
      var first = FIELDS.filter(function (f) { return input(f).getAttribute('aria-invalid') === 'true'; })[0];
      if (first) input(first).focus();
      return;
    }
    api.showBanner(banner, api.describeProblem(result));
  }

  async function onResend() {
    if (!registeredEmail) return;
    resendButton.disabled = true;
    resendStatus.className = 'resend-status';
    resendStatus.textContent = 'Sending…';
    var result = await api.request('POST', '/verify/resend', { email: registeredEmail });
    if (result.status === 202) {
      api.startResendCooldown(resendButton, resendStatus, result.body && result.body.message
        ? result.body.message
        : 'If your account is waiting for verification, a new email is on its way.');
      return;
    }
    var problem = api.describeProblem(result);
    resendStatus.className = 'resend-status error';
    resendStatus.textContent = problem.title + '. ' + problem.detail;
    resendButton.disabled = false;
  }

  form.addEventListener('submit', onSubmit);
  FIELDS.forEach(function (field) {
    var el = input(field);
    el.addEventListener(el.type === 'checkbox' ? 'change' : 'input', function () {
      clearFieldErrors(field);
    });
  });

  resendButton.addEventListener('click', onResend);
  document.getElementById('close-dialog').addEventListener('click', function () {
    dialog.close();
  });
})();
