// The shop's own behaviour. Tracking is the tracker's job (autocaptured clicks and submits, with
// data-ff-section); this file only adds the calls a real shop would make: identify after sign-up.
(function () {
  var ff = window.footfall;
  var $ = function (id) { return document.getElementById(id); };

  var popup = $('reco-popup');
  $('reco-open').addEventListener('click', function () { popup.hidden = false; });
  $('reco-close').addEventListener('click', function () { popup.hidden = true; });

  function post(path, data) {
    // Same-origin fetch: the tracker adds X-Request-ID (requestIdOrigins = this origin).
    return fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(data),
    }).then(function (res) {
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    });
  }

  var form = $('register-form');
  if (form) form.addEventListener('submit', function (e) {
    e.preventDefault();
    var data = { name: form.elements.name.value, email: form.elements.email.value };
    post('/api/register', data).then(function (res) {
      localStorage.setItem('shop_user', res.userId);
      if (ff && ff.identify) ff.identify(res.userId, { plan: 'free' });
      $('register-status').textContent = 'Welcome! You are registered as ' + res.userId + '.';
    }, function (err) {
      $('register-status').textContent = 'Registration failed: ' + err.message;
    });
  });

  var buy = $('buy');
  if (buy) buy.addEventListener('click', function () {
    var slug = $('product').getAttribute('data-slug');
    post('/api/checkout', { slug: slug, userId: localStorage.getItem('shop_user') }).then(
      function (res) {
        // The purchase itself ("Order Completed") is sent by the back end with a server key.
        if (ff && ff.track) ff.track('Order Confirmation Viewed', { order_id: res.orderId });
        $('order-status').textContent = 'Thank you! Order ' + res.orderId + ' is confirmed.';
      },
      function (err) { $('order-status').textContent = 'Checkout failed: ' + err.message; }
    );
  });
})();
