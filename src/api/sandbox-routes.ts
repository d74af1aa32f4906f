import type { FastifyInstance } from 'fastify';
import { isOrderId } from '../domain/ids.js';
import type { SandboxPayments } from '../services/sandbox-payment.js';
import { notFoundPage, page, escapeHtml } from '../pages/html.js';
import { sandboxPayPage, sandboxPayoutPage, sandboxResultPage } from '../pages/sandbox-page.js';

/** The sandbox channel's payer side: GET shows the page, POST result=success|fail pays or fails. */
export function sandboxRoutes(app: FastifyInstance, sandbox: SandboxPayments): void {
  // No HEAD twin: only a payer actually opening the page moves the order to p0002.
  app.get<{ Params: { orderId: string } }>('/sandbox/pay/:orderId', { exposeHeadRoute: false }, async (request, reply) => {
    const found = isOrderId(request.params.orderId) ? await sandbox.find(request.params.orderId) : undefined;
    if (!found) return reply.code(404).type('text/html; charset=utf-8').send(notFoundPage());
    const order = await sandbox.open(found);
    const html = sandbox.isPayout(order) ? sandboxPayoutPage(order, await sandbox.waitingForPayee(order.order_id)) : sandboxPayPage(order);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  });

  app.post<{ Params: { orderId: string } }>('/sandbox/pay/:orderId', async (request, reply) => {
    const wantsHtml = /text\/html/.test(request.headers.accept ?? '');
    const fail = (status: number, message: string) =>
      wantsHtml
        ? reply.code(status).type('text/html; charset=utf-8').send(page('dtpay sandbox', `<h1>${escapeHtml(message)}</h1>`))
        : reply.code(status).send({ error: message });

    const found = isOrderId(request.params.orderId) ? await sandbox.find(request.params.orderId) : undefined;
    if (!found) return wantsHtml ? reply.code(404).type('text/html; charset=utf-8').send(notFoundPage()) : fail(404, 'no such sandbox order');
    const body = request.body as Record<string, unknown> | undefined;
    const result = body && typeof body === 'object' ? body.result : undefined;
    if (result !== 'success' && result !== 'fail') return fail(400, 'result: must be success or fail');

    const done = await sandbox.complete(found, result);
    if (!done.ok) return fail(409, done.reason);
    if (wantsHtml) return reply.type('text/html; charset=utf-8').send(sandboxResultPage(done.order));
    return { orderId: done.order.order_id, mercOrderNo: done.order.merc_order_no, payStatus: done.order.pay_status };
  });
}
