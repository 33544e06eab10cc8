// Reply texts as HAProxy 2.6.12 wrote them (recorded on its stats socket), read into types.
import test from 'ava';
import {
  addServerReply, cliLevelReply, delServerReply, faultOf, infoReply, replyText, serversStateReply, silentReply, statReply,
} from './runtime-replies.ts';

const STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 gridhost_web 1 static1 127.0.0.1 0 5 1 1 4 1 0 0 8 0 0 0 - 1 - 0 0 - - 0
3 gridhost_web 2 gh-a 127.0.0.1 2 0 1 1 2 15 3 3 6 0 0 0 - 5555 - 0 0 - - 0
3 gridhost_web 4 gh-b 127.0.0.1 2 8 1 1 1 15 3 3 6 0 0 0 - 5556 - 0 0 - - 0
3 gridhost_web 5 gh-c ::1 0 1 1 1 2 1 0 0 2 0 0 0 - 5557 - 0 0 - - 0

`;

test('show servers state: rows by column name, op state and the maintenance and drain bits', (t) => {
  t.deepEqual(serversStateReply(STATE), [
    { backend: 'gridhost_web', backendId: 3, id: 1, name: 'static1', addr: '127.0.0.1', port: 1, op: 'stopped', maint: true, drain: false },
    { backend: 'gridhost_web', backendId: 3, id: 2, name: 'gh-a', addr: '127.0.0.1', port: 5555, op: 'running', maint: false, drain: false },
    { backend: 'gridhost_web', backendId: 3, id: 4, name: 'gh-b', addr: '127.0.0.1', port: 5556, op: 'running', maint: false, drain: true },
    { backend: 'gridhost_web', backendId: 3, id: 5, name: 'gh-c', addr: '::1', port: 5557, op: 'stopped', maint: true, drain: false },
  ]);
  t.deepEqual(serversStateReply('1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n\n'), []);
  t.is(serversStateReply("Can't find backend.\n\n"), undefined);
});

const STAT_HEADER = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo';

test('show stat: server rows with sessions, responses by class, errors and the last check; aggregates left out', (t) => {
  const text = [
    STAT_HEADER,
    'fe_web,FRONTEND,,,0,0,9985,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,',
    'gridhost_web,gh-a,1,2,3,4,,120,0,0,,0,,5,6,7,8,DRAIN,1,1,0,0,1,10,0,,1,3,1,,0,,2,0,,0,* L7OK,200,1,0,110,0,2,8,0,0,,,,4,9,0,0,0,0,,,,0,0,12,14,,,,Layer7 check passed,,2,2,3,,,,127.0.0.1:5555,,http,',
    'gridhost_web,gh-b,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,,,1,,,1,3,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:5556,,http,',
    'gridhost_web,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,0,0,0,,1,9,,,1,3,0,,0,,1,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin',
    '',
  ].join('\n');
  const rows = statReply(text)!;
  t.deepEqual(rows.map((r) => r.name), ['gh-a', 'gh-b']);
  t.deepEqual(rows[0], {
    backend: 'gridhost_web', name: 'gh-a', status: 'DRAIN', scur: 3, stot: 120, qcur: 1,
    hrsp1xx: 0, hrsp2xx: 110, hrsp3xx: 0, hrsp4xx: 2, hrsp5xx: 8, hrspOther: 0,
    econ: 5, eresp: 6, cliAbrt: 4, srvAbrt: 9, wretr: 7, wredis: 8, rtimeMs: 12,
    checkStatus: 'L7OK', checkCode: 200, checkDesc: 'Layer7 check passed', chkdown: 1, lastchgSec: 10, addr: '127.0.0.1:5555',
  });
  t.deepEqual(statReply(text, { aggregates: true })!.map((r) => r.name), ['gh-a', 'gh-b', 'BACKEND']);
  t.like(rows[1], { status: 'MAINT', scur: 0, stot: 0, checkStatus: '', checkCode: undefined });
  t.is(statReply('No such proxy.\n'), undefined);
});

test('replies of each command: success and what each fault reads as', (t) => {
  t.deepEqual(addServerReply('New server registered.\n\n'), { ok: true });
  t.deepEqual(addServerReply('Already exists a server with the same name in backend.\n\n'), { ok: false, fault: 'server-exists' });
  t.deepEqual(addServerReply('No such backend.\n'), { ok: false, fault: 'unknown-backend' });
  t.deepEqual(addServerReply('Permission denied\n\n'), { ok: false, fault: 'permission-denied' });
  t.deepEqual(addServerReply("invalid character 'n' in port number 'notaport' in '127.0.0.1:notaport'\n\n\n"), { ok: false, fault: 'other' });
  t.deepEqual(delServerReply('Server deleted.\n'), { ok: true });
  t.deepEqual(delServerReply('No such server.\n'), { ok: false, fault: 'unknown-server' });
  t.deepEqual(delServerReply('Only servers in maintenance mode can be deleted.\n'), { ok: false, fault: 'not-in-maintenance' });
  t.deepEqual(delServerReply('Server still has connections attached to it, cannot remove it.\n'), { ok: false, fault: 'has-connections' });
  t.deepEqual(silentReply('\n'), { ok: true });
  t.deepEqual(silentReply('No such server.\n\n'), { ok: false, fault: 'unknown-server' });
  t.is(faultOf("Can't find backend.\n\n"), 'unknown-backend');
  t.is(faultOf('Unknown command, but maybe one of the following ones is a better match:\n  show acl\n'), 'unknown-command');
});

test('show cli level and show info', (t) => {
  t.is(cliLevelReply('admin\n\n'), 'admin');
  t.is(cliLevelReply('user\n\n'), 'user');
  t.is(cliLevelReply('HTTP/1.1 400 Bad Request\r\n'), undefined);
  t.deepEqual(infoReply('Name: HAProxy\nVersion: 2.6.12-1+deb12u3\nRelease_date: 2025/10/03\nPid: 17464\nUptime: 0d 0h00m09s\nUptime_sec: 9\n'), { pid: 17464, uptimeSec: 9, version: '2.6.12-1+deb12u3' });
  t.is(infoReply('Permission denied\n'), undefined);
});

test('replyText is one short line without control characters, for messages', (t) => {
  t.is(replyText('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'), 'HTTP/1.1 400 Bad Request / Connection: close');
  t.is(replyText('x'.repeat(1000)).length, 300);
});
