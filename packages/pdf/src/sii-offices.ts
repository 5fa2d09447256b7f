/**
 * The SII office printed under the red box ("S.I.I. - SANTIAGO ORIENTE"): the Dirección Regional or
 * Unidad whose jurisdiction covers the issuer's commune (sii-spec §13). Only mappings we are sure
 * of are listed — the four Santiago direcciones regionales with the metropolitan units under them,
 * and the regional capitals (whose unit carries their name); any other commune prints its own name
 * in capitals, which is also what the SII unit of most provincial capitals is called.
 */

const SANTIAGO_CENTRO = 'SANTIAGO CENTRO';
const SANTIAGO_ORIENTE = 'SANTIAGO ORIENTE';
const SANTIAGO_PONIENTE = 'SANTIAGO PONIENTE';
const SANTIAGO_SUR = 'SANTIAGO SUR';

const UNITS: ReadonlyArray<readonly [unit: string, communes: readonly string[]]> = [
  [SANTIAGO_CENTRO, ['Santiago']],
  [SANTIAGO_ORIENTE, ['Las Condes', 'Vitacura', 'Lo Barnechea']],
  [SANTIAGO_PONIENTE, ['Estación Central', 'Quinta Normal', 'Lo Prado', 'Pudahuel', 'Cerro Navia', 'Renca', 'Curacaví']],
  [SANTIAGO_SUR, ['San Miguel', 'La Cisterna', 'La Granja', 'La Pintana', 'Lo Espejo', 'Pedro Aguirre Cerda', 'San Joaquín', 'San Ramón']],
  // Metropolitan units that bear the name of their main commune.
  ['PROVIDENCIA', ['Providencia']],
  ['ÑUÑOA', ['Ñuñoa', 'La Reina', 'Macul', 'Peñalolén']],
  ['LA FLORIDA', ['La Florida', 'Puente Alto', 'Pirque', 'San José de Maipo']],
  ['MAIPÚ', ['Maipú', 'Cerrillos', 'Padre Hurtado', 'Peñaflor', 'Talagante', 'El Monte', 'Isla de Maipo']],
  ['SAN BERNARDO', ['San Bernardo', 'El Bosque', 'Calera de Tango']],
  ['BUIN', ['Buin', 'Paine']],
  ['MELIPILLA', ['Melipilla', 'Alhué', 'María Pinto', 'San Pedro']],
  // Regional capitals.
  ['ARICA', ['Arica']],
  ['IQUIQUE', ['Iquique', 'Alto Hospicio']],
  ['ANTOFAGASTA', ['Antofagasta']],
  ['COPIAPÓ', ['Copiapó']],
  ['LA SERENA', ['La Serena']],
  ['VALPARAÍSO', ['Valparaíso']],
  ['RANCAGUA', ['Rancagua']],
  ['TALCA', ['Talca']],
  ['CHILLÁN', ['Chillán', 'Chillán Viejo']],
  ['CONCEPCIÓN', ['Concepción']],
  ['TEMUCO', ['Temuco', 'Padre Las Casas']],
  ['VALDIVIA', ['Valdivia']],
  ['PUERTO MONTT', ['Puerto Montt']],
  ['COYHAIQUE', ['Coyhaique', 'Coihaique']],
  ['PUNTA ARENAS', ['Punta Arenas']],
];

/** Upper case without diacritics or repeated spaces: the lookup key of a commune name. */
const key = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase()
    .replace(/\s+/g, ' ')
    .trim();

const BY_COMMUNE: ReadonlyMap<string, string> = new Map(UNITS.flatMap(([unit, communes]) => communes.map((c) => [key(c), unit] as const)));

/** The SII unit of a commune; an unknown commune gives its own name in capitals ('' when absent). */
export function siiUnitOf(comuna: string | undefined): string {
  if (comuna === undefined || comuna.trim() === '') return '';
  return BY_COMMUNE.get(key(comuna)) ?? comuna.trim().replace(/\s+/g, ' ').toLocaleUpperCase('es-CL');
}
