import type { FastifyInstance } from 'fastify';
import { isOrderId } from '../domain/ids.js';
import QRCode from 'qrcode';
import type { Reads } from '../db/reads.js';
import { storedAnswer } from '../services/create-order.js';
import { cashierPage } from '../pages/cashier-page.js';
import { notFoundPage, page } from '../pages/html.js';
import { frontNotificationUrl } from '../services/front-notification.js';

/** Public pages: / (to the documentation), the QR image of an order's codeUrl, the hosted cashier. */
export function pageRoutes(app: FastifyInstance, reads: Reads): void {
  const findOrder = (id: string) => (isOrderId(id) ? reads.order(id) : undefined);

  // Someone opening the gateway's address in a browser lands on the API documentation. A temporary
  // redirect: what lives at / may change (the operator console).
  app.get('/', async (_request, reply) => reply.redirect('/docs', 302));

  app.get<{ Params: { file: string } }>('/qr/:file', async (request, reply) => {
    const orderId = request.params.file.replace(/\.png$/, '');
    const order = findOrder(orderId);
    const codeUrl = order ? storedAnswer(order).fields.codeUrl : undefined;
    if (!codeUrl) return reply.code(404).type('text/plain; charset=utf-8').send('no QR code for this order');
    const png = await QRCode.toBuffer(codeUrl, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 300 });
    return reply.type('image/png').header('cache-control', 'public, max-age=3600').send(png);
  });

  app.get<{ Params: { orderId: string } }>('/cashier/:orderId', async (request, reply) => {
    const order = findOrder(request.params.orderId);
    if (!order) return reply.code(404).type('text/html; charset=utf-8').send(notFoundPage());
    const merchantName = reads.merchant(order.merc_no)?.name ?? '';
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(cashierPage(order, storedAnswer(order), merchantName));
  });

  // What the cashier's script polls. Once paid, returnUrl is the order's returnUrl with the signed
  // front-notification parameters: signed here, so the merchant key never reaches the page.
  app.get<{ Params: { orderId: string } }>('/cashier/:orderId/status', async (request, reply) => {
    const order = findOrder(request.params.orderId);
    if (!order) return reply.code(404).header('cache-control', 'no-store').send({ error: 'no such order' });
    const answer: { payStatus: string; expireAt: number; returnUrl?: string } = {
      payStatus: order.pay_status,
      expireAt: order.expire_at,
    };
    if (order.pay_status === 'p0000') {
      const merchant = reads.merchant(order.merc_no);
      const returnUrl = merchant ? frontNotificationUrl(order, merchant.key) : undefined;
      if (returnUrl) answer.returnUrl = returnUrl;
    }
    return reply.header('cache-control', 'no-store').send(answer);
  });

  // The channel's form (gateway, WAP, online banking) is served as a page of its own, so the
  // cashier can link to it and the browser submits it to the channel.
  app.get<{ Params: { orderId: string } }>('/cashier/:orderId/form', async (request, reply) => {
    const order = findOrder(request.params.orderId);
    const html = order ? storedAnswer(order).fields.resultHtml : undefined;
    if (!html) return reply.code(404).type('text/html; charset=utf-8').send(notFoundPage());
    return reply.type('text/html; charset=utf-8').send(page('Redirecting to the bank…', html));
  });
}
