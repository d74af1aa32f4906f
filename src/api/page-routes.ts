import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isOrderId } from '../domain/ids.js';
import QRCode from 'qrcode';
import type { StoragePort } from '../db/port.js';
import type { CashierLinks } from '../domain/cashier-links.js';
import { storedAnswer } from '../services/create-order.js';
import { cashierPage } from '../pages/cashier-page.js';
import { notFoundPage, page } from '../pages/html.js';
import { frontNotificationUrl } from '../services/front-notification.js';

/**
 * Public pages: / (to the documentation), the QR image of an order's codeUrl, the hosted cashier, and what it polls. Each
 * answers only a link carrying the order's token; without it, as for an order that does not
 * exist, the same plain 404, so a guessed order id tells nothing.
 */
export function pageRoutes(app: FastifyInstance, reads: Pick<StoragePort['reads'], 'order' | 'merchant'>, links: CashierLinks): void {
  // The token is checked before the database is asked, so an unknown order and a known one
  // without its token take the same path.
  const findOrder = async (orderId: string, request: FastifyRequest) =>
    isOrderId(orderId) && links.allows(orderId, request.query) ? reads.order(orderId) : undefined;

  // Someone opening the gateway's address in a browser lands on the API documentation. A temporary
  // redirect: what lives at / may change (the operator console).
  app.get('/', async (_request, reply) => reply.redirect('/docs', 302));

  app.get<{ Params: { file: string } }>('/qr/:file', async (request, reply) => {
    const orderId = request.params.file.replace(/\.png$/, '');
    const order = await findOrder(orderId, request);
    const codeUrl = order ? storedAnswer(order).fields.codeUrl : undefined;
    if (!codeUrl) return reply.code(404).type('text/plain; charset=utf-8').send('no QR code for this order');
    const png = await QRCode.toBuffer(codeUrl, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 300 });
    // private: the image is the channel's payment link of one order, for that payer's browser only.
    return reply.type('image/png').header('cache-control', 'private, max-age=3600').send(png);
  });

  app.get<{ Params: { orderId: string } }>('/cashier/:orderId', async (request, reply) => {
    const order = await findOrder(request.params.orderId, request);
    if (!order) return reply.code(404).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(notFoundPage());
    const merchantName = (await reads.merchant(order.merc_no))?.name ?? '';
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(cashierPage(order, storedAnswer(order), { merchantName, links }));
  });

  // What the cashier's script polls. Once paid, returnUrl is the order's returnUrl with the signed
  // front-notification parameters: signed here, so the merchant key never reaches the page.
  app.get<{ Params: { orderId: string } }>('/cashier/:orderId/status', async (request, reply) => {
    const order = await findOrder(request.params.orderId, request);
    if (!order) return reply.code(404).header('cache-control', 'no-store').send({ error: 'no such order' });
    const answer: { payStatus: string; expireAt: number; returnUrl?: string } = {
      payStatus: order.pay_status,
      expireAt: order.expire_at,
    };
    if (order.pay_status === 'p0000') {
      const merchant = await reads.merchant(order.merc_no);
      const returnUrl = merchant ? frontNotificationUrl(order, merchant.key) : undefined;
      if (returnUrl) answer.returnUrl = returnUrl;
    }
    return reply.header('cache-control', 'no-store').send(answer);
  });

  // The channel's form (gateway, WAP, online banking) is served as a page of its own, so the
  // cashier can link to it and the browser submits it to the channel.
  app.get<{ Params: { orderId: string } }>('/cashier/:orderId/form', async (request, reply) => {
    const order = await findOrder(request.params.orderId, request);
    const html = order ? storedAnswer(order).fields.resultHtml : undefined;
    if (!html) return reply.code(404).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(notFoundPage());
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page('Redirecting to the bank…', html));
  });
}
